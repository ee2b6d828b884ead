const { install, settle } = require('./fake-wx')
const { mount, tap } = require('./mount')

const file = (n) => ({ tempFilePath: `wxfile://${n}.jpg`, fileType: n % 2 ? 'image' : 'video', size: 1024 * n })

test('at most nine photos or videos are taken, each labelled and removable', async () => {
  const wx = install({})
  wx.chooseResult(Array.from({ length: 12 }, (_, i) => file(i + 1)))
  const list = await mount('components/media-list/index')
  const changes = []
  list.instance.triggerEvent = (name, detail) => changes.push([name, detail.media.length])
  await tap(list, '.add-media')
  expect(list.instance.data.media).toHaveLength(9)
  expect(list.querySelector('.add-media')).toBeFalsy()
  expect(list.dom.innerHTML).toContain('视频')
  expect(list.dom.innerHTML).toContain('照片（1 KB）')
  await tap(list, '.remove')
  await settle()
  expect(list.instance.data.media.map((m) => m.path)[0]).toBe('wxfile://2.jpg')
  expect(changes).toEqual([['change', 9], ['change', 8]])
  expect(list.dom.innerHTML).toContain('添加照片或视频（8/9）')
})

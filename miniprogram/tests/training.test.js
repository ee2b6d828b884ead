const { install } = require('./fake-wx')
const { mount } = require('./mount')

test("a unit's training QR code opens the practice form for that unit", async () => {
  const wx = install({})
  const entry = await mount('pages/training/index', { scene: 'H001' })
  expect(entry.dom.textContent).toContain('培训演示环境')
  expect(wx.calls.navigations).toEqual([['redirectTo', '/pages/report/index?training=1&scene=H001']])
})

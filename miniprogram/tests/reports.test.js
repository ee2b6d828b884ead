const { install, json } = require('./fake-wx')
const { mount, tap, text } = require('./mount')
const { backend, REPORT_ID } = require('./backend')

const summary = (n, status, label) => ({ id: n === 1 ? REPORT_ID : `00000000-0000-4000-8000-00000000000${n}`,
  tracking_no: `QZBG-20261207-000${n}`, status, status_label: label,
  submitted_at: '2026-12-07T02:00:00+00:00', updated_at: '2026-12-07T03:30:00+00:00' })

test('我的报告 lists own reports with their status, pages on, and opens one', async () => {
  const { routes } = backend({
    'GET /api/v1/reports': (req) => (req.url.includes('cursor=c2')
      ? json(200, { items: [summary(3, 'closed', '已办结')], next_cursor: null })
      : json(200, { items: [summary(1, 'submitted', '已提交'), summary(2, 'received', '已受理')], next_cursor: 'c2' })),
  })
  const wx = install(routes)
  const page = await mount('pages/reports/index')
  expect(page.dom.textContent).toContain('QZBG-20261207-0001')
  expect(page.dom.textContent).toContain('已受理')
  expect(page.dom.textContent).toContain('提交于 2026-12-07 10:00')
  await tap(page, '#more')
  expect(page.instance.data.items.map((r) => r.status_label)).toEqual(['已提交', '已受理', '已办结'])
  expect(page.querySelector('#more')).toBeFalsy()
  await tap(page, '.report')
  expect(wx.calls.navigations).toEqual([['navigateTo', `/pages/report/detail?id=${REPORT_ID}`]])
})

test('an empty list says so, and a dropped connection says what to do', async () => {
  let drop = false
  const { routes } = backend({
    'GET /api/v1/reports': () => (drop ? 'fail' : json(200, { items: [], next_cursor: null })),
  })
  install(routes)
  const page = await mount('pages/reports/index')
  expect(text(page, '#empty')).toContain('还没有提交过报告')
  drop = true
  const offline = await mount('pages/reports/index')
  expect(text(offline, '#message')).toContain('网络连接中断')
})

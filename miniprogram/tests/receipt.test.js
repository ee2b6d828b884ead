const { install } = require('./fake-wx')
const { mount, tap, text } = require('./mount')
const { backend, REPORT_ID } = require('./backend')
const config = require('../config')

const OPTIONS = { id: REPORT_ID, tracking_no: 'QZBG-20261207-0001', training: '0' }

test('the receipt shows the 查询号 and says what happens next', async () => {
  install(backend().routes)
  const page = await mount('pages/receipt/index', OPTIONS)
  expect(text(page, '#tracking-no')).toBe('QZBG-20261207-0001')
  expect(text(page, '#next-step')).toContain('规定期限内')
  expect(page.dom.textContent).not.toContain('培训演示环境')
})

test('an accepted subscribe request is recorded at /api/v1/subscriptions', async () => {
  const { routes, state } = backend()
  const wx = install(routes)
  wx.subscribeResult({ [config.statusTemplateId]: 'accept' })
  const page = await mount('pages/receipt/index', OPTIONS)
  await tap(page, '#subscribe')
  expect(wx.calls.subscribeRequests).toEqual([[config.statusTemplateId]])
  expect(state.subscriptions).toEqual([{ template_ids: [config.statusTemplateId] }])
  expect(text(page, '#subscribe-message')).toContain('已开启提醒')
  expect(page.querySelector('#subscribe')).toBeFalsy()
})

test('a refused subscribe request records nothing and says where progress is', async () => {
  const { routes, state } = backend()
  const wx = install(routes)
  wx.subscribeResult({ [config.statusTemplateId]: 'reject' })
  const page = await mount('pages/receipt/index', OPTIONS)
  await tap(page, '#subscribe')
  expect(state.subscriptions).toEqual([])
  expect(text(page, '#subscribe-message')).toContain('我的报告')
})

test('a practice receipt carries the training banner, and its buttons lead to the report and the list', async () => {
  const wx = install(backend().routes)
  const page = await mount('pages/receipt/index', { ...OPTIONS, training: '1' })
  expect(page.dom.textContent).toContain('培训演示环境')
  await tap(page, '#to-detail')
  await tap(page, '#to-list')
  expect(wx.calls.navigations).toEqual([
    ['redirectTo', `/pages/report/detail?id=${REPORT_ID}`], ['redirectTo', '/pages/reports/index'],
  ])
})

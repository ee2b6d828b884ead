const { install, json } = require('./fake-wx')
const { mount, type, change, tap, text, find } = require('./mount')
const { backend, REPORT_ID } = require('./backend')
const client = require('../api/client')
const drafts = require('../utils/draft')

const NOW = Date.parse('2026-12-07T10:00:00+08:00')

beforeEach(() => {
  client.clock.now = () => NOW
})

async function fill(page) {
  await change(page, '#categories', ['abuse_injury'])
  await type(page, '#reporter-name', '王医生')
  await type(page, '#reporter-phone', '13800000000')
  await change(page, '#victim-gender', '0')
  await type(page, '#victim-age', '12')
  await type(page, '#incident-description', '接诊时发现孩子身上有多处新旧伤痕。')
}

function posts(wx, path) {
  return wx.calls.requests.filter((r) => r.method === 'POST' && r.url.endsWith(path))
}

test('a unit QR code fills in the unit and the filled form becomes one report with its photos, then the receipt', async () => {
  const { routes, state } = backend()
  const wx = install(routes)
  wx.chooseResult([
    { tempFilePath: 'wxfile://one.jpg', fileType: 'image', size: 2048 },
    { tempFilePath: 'wxfile://two.jpg', fileType: 'image', size: 4096 },
  ])
  const page = await mount('pages/report/index', { scene: 'H001' })
  expect(text(page, '#unit')).toBe('市妇幼保健院')
  expect(wx.calls.logins).toBe(1)

  await fill(page)
  await tap(page, '#media >>> .add-media')
  expect(page.instance.data.media).toHaveLength(2)
  await tap(page, '#submit')

  expect(state.reports).toHaveLength(1)
  const body = state.reports[0].body
  expect(body).toMatchObject({
    categories: ['abuse_injury'], unit_id: 7, district_code: null, training: false, urgent: false,
    reporter: { name: '王医生', phone: '13800000000', position: null },
    victim: { gender: 'female', age: 12 },
    incident: { discovered_at: '2026-12-07T10:00:00+08:00', description: '接诊时发现孩子身上有多处新旧伤痕。' },
    suspect: null,
    police: { notified: false, station: null, notified_at: null },
  })
  expect(body.client_id).toMatch(/^[0-9a-f-]{36}$/)
  expect(wx.calls.requests.find((r) => r.url.endsWith('/reports')).header.Authorization).toBe('Bearer token-1')
  expect(state.attachments).toEqual(['wxfile://one.jpg', 'wxfile://two.jpg'])
  expect(wx.calls.uploads[0].url).toContain(`/api/v1/reports/${REPORT_ID}/attachments`)
  expect(wx.calls.navigations).toEqual([
    ['redirectTo', `/pages/receipt/index?id=${REPORT_ID}&tracking_no=QZBG-20261207-0001&training=0`],
  ])
  expect(wx.getStorageSync(drafts.KEY)).toBe('')
})

test('without a scene the district picker is shown and its district goes with the report', async () => {
  const { routes, state } = backend()
  install(routes)
  const page = await mount('pages/report/index', {})
  expect(page.querySelector('#unit')).toBeFalsy()
  await fill(page)
  await tap(page, '#submit')
  expect(state.reports).toHaveLength(0)
  expect(text(page, '#message')).toContain('请检查')
  await change(page, '#district', '0')
  await tap(page, '#submit')
  expect(state.reports[0].body).toMatchObject({ unit_id: null, district_code: '430281' })
})

test('an empty form is refused on the phone with a hint beside each field, and nothing is sent', async () => {
  const { routes, state } = backend()
  install(routes)
  const page = await mount('pages/report/index', { scene: 'H001' })
  await type(page, '#victim-age', '19')
  await tap(page, '#submit')
  expect(state.reports).toHaveLength(0)
  const errors = page.instance.data.errors
  expect(errors.categories).toBe('请至少选择一项情形')
  expect(errors.reporter_name).toBe('请填写报告人姓名')
  expect(errors.victim_gender).toBe('请填写性别')
  expect(errors.victim_age).toBe('年龄应在0至17岁之间')
  expect(errors.incident_description).toBe('请填写情况描述')
  expect(page.dom.innerHTML).toContain('请填写报告人姓名')
})

test("the server's zh-CN field errors are shown beside their fields", async () => {
  const { routes } = backend({
    'POST /api/v1/reports': () => json(422, { error: { code: 'validation_error', message: '提交内容有误，请检查标记的项目',
      fields: { 'victim.id_number': ['身份证号码校验位不正确'] } } }),
  })
  install(routes)
  const page = await mount('pages/report/index', { scene: 'H001' })
  await fill(page)
  await type(page, '#victim-id-number', '430281201001011234')
  await tap(page, '#submit')
  expect(page.instance.data.errors.victim_id_number).toBe('身份证号码校验位不正确')
  expect(page.dom.innerHTML).toContain('身份证号码校验位不正确')
  expect(text(page, '#message')).toContain('提交内容有误')
})

test('urgent keeps a 拨打110 button in view that calls 110', async () => {
  const { routes } = backend()
  const wx = install(routes)
  const page = await mount('pages/report/index', { scene: 'H001' })
  expect(page.querySelector('#urgent-bar')).toBeFalsy()
  await change(page, '#urgent', true)
  expect(text(page, '#urgent-bar')).toContain('拨打110')
  await tap(page, '#urgent-bar .call-110')
  expect(wx.calls.phoneCalls).toEqual(['110'])
})

test('a double tap on 提交报告 sends one report', async () => {
  const { routes, state } = backend()
  const wx = install(routes)
  const page = await mount('pages/report/index', { scene: 'H001' })
  await fill(page)
  find(page, '#submit').dispatchEvent('tap')
  find(page, '#submit').dispatchEvent('tap')
  await tap(page, '#submit')
  expect(posts(wx, '/api/v1/reports')).toHaveLength(1)
  expect(state.reports).toHaveLength(1)
})

test('a dropped connection keeps the draft and the retry sends the same client_id', async () => {
  let drop = true
  const { routes, state } = backend()
  const create = routes['POST /api/v1/reports']
  routes['POST /api/v1/reports'] = (req) => {
    if (drop) { drop = false; return 'fail' }
    return create(req)
  }
  const wx = install(routes)
  const page = await mount('pages/report/index', { scene: 'H001' })
  await fill(page)
  await tap(page, '#submit')
  expect(text(page, '#message')).toContain('网络连接中断')
  expect(wx.getStorageSync(drafts.KEY).form.reporter.name).toBe('王医生')
  await tap(page, '#submit')
  const sent = posts(wx, '/api/v1/reports').map((r) => r.data.client_id)
  expect(sent).toHaveLength(2)
  expect(sent[0]).toBe(sent[1])
  expect(state.reports).toHaveLength(1)
})

test('429 tells the user when to try again, from Retry-After', async () => {
  const { routes } = backend({
    'POST /api/v1/reports': () => json(429, { error: { code: 'rate_limited', message: '提交过于频繁，请稍后再试' } },
      { 'Retry-After': '42' }),
  })
  install(routes)
  const page = await mount('pages/report/index', { scene: 'H001' })
  await fill(page)
  await tap(page, '#submit')
  expect(text(page, '#message')).toContain('请在42秒后重试')
  expect(page.instance.data.submitting).toBe(false)
})

test('an expired token is renewed once silently; a second 401 is said in words', async () => {
  let refusals = 1
  const { routes, state } = backend()
  const create = routes['POST /api/v1/reports']
  routes['POST /api/v1/reports'] = (req) => {
    if (refusals > 0) { refusals -= 1; return json(401, { error: { code: 'unauthorized', message: '请重新登录' } }) }
    return create(req)
  }
  const wx = install(routes)
  const page = await mount('pages/report/index', { scene: 'H001' })
  await fill(page)
  await tap(page, '#submit')
  expect(wx.calls.logins).toBe(2)
  expect(state.reports).toHaveLength(1)

  refusals = 5
  const again = await mount('pages/report/index', { scene: 'H001' })
  await fill(again)
  await tap(again, '#submit')
  expect(text(again, '#message')).toContain('登录已失效')
  expect(wx.calls.logins).toBe(3)
})

test('a failed photo upload shows 重试, and the retry leads to the receipt', async () => {
  let fail = true
  const { routes, state } = backend()
  const store = routes['POST /api/v1/reports/{report_id}/attachments']
  routes['POST /api/v1/reports/{report_id}/attachments'] = (req) => {
    if (fail) { fail = false; return 'fail' }
    return store(req)
  }
  const wx = install(routes)
  wx.chooseResult([{ tempFilePath: 'wxfile://one.jpg', fileType: 'image', size: 2048 }])
  const page = await mount('pages/report/index', { scene: 'H001' })
  await fill(page)
  await tap(page, '#media >>> .add-media')
  await tap(page, '#submit')
  expect(state.reports).toHaveLength(1)
  expect(text(page, '#message')).toContain('有1个附件未上传成功')
  expect(page.dom.innerHTML).toContain('上传失败')
  expect(wx.calls.navigations).toEqual([])
  await tap(page, '#media >>> .retry')
  expect(state.attachments).toEqual(['wxfile://one.jpg'])
  expect(wx.calls.navigations[0][1]).toMatch(/^\/pages\/receipt\/index\?id=/)
})

test('the draft survives a killed mini-program and is restored with a notice', async () => {
  const { routes, state } = backend()
  const wx = install(routes)
  const first = await mount('pages/report/index', { scene: 'H001' })
  await fill(first)
  await change(first, '#urgent', true)
  const clientId = first.instance.clientId

  const restored = await mount('pages/report/index', { scene: 'H001' })
  expect(text(restored, '#notice')).toContain('已恢复')
  expect(restored.instance.data.form.reporter.name).toBe('王医生')
  expect(restored.instance.data.urgent).toBe(true)
  expect(restored.instance.data.categories.find((c) => c.code === 'abuse_injury').checked).toBe(true)
  await tap(restored, '#submit')
  expect(state.reports[0].body.client_id).toBe(clientId)
  expect(wx.getStorageSync(drafts.KEY)).toBe('')
})

test('a draft older than 24 hours is discarded with a notice', async () => {
  const { routes } = backend()
  const wx = install(routes)
  const first = await mount('pages/report/index', { scene: 'H001' })
  await fill(first)
  client.clock.now = () => NOW + 24 * 3600 * 1000 + 1
  const later = await mount('pages/report/index', { scene: 'H001' })
  expect(text(later, '#notice')).toContain('超过24小时')
  expect(later.instance.data.form.reporter.name).toBe('')
  expect(wx.getStorageSync(drafts.KEY)).toBe('')
})

test('the phone-number button verifies the number and fills it in', async () => {
  const { routes } = backend()
  const wx = install(routes)
  const page = await mount('pages/report/index', { scene: 'H001' })
  find(page, '.phone-button').dispatchEvent('getphonenumber', { detail: { code: 'phone-code' } })
  await require('./fake-wx').settle()
  expect(wx.calls.requests.find((r) => r.url.endsWith('/auth/phone')).data).toEqual({ code: 'phone-code' })
  expect(page.instance.data.form.reporter.phone).toBe('13800000000')
  expect(page.dom.innerHTML).toContain('138****0000')
})

test('the practice form shows the 培训演示环境 banner and sends a practice report', async () => {
  const { routes, state } = backend()
  install(routes)
  const page = await mount('pages/report/index', { training: '1', scene: 'H001' })
  expect(text(page, '#training-banner')).toContain('培训演示环境')
  await fill(page)
  await tap(page, '#submit')
  expect(state.reports[0].body.training).toBe(true)
})

test('nothing personal goes to the console', async () => {
  const spies = ['log', 'info', 'warn', 'error', 'debug'].map((m) => jest.spyOn(console, m).mockImplementation(() => {}))
  const { routes } = backend()
  install(routes)
  const page = await mount('pages/report/index', { scene: 'H001' })
  await fill(page)
  await tap(page, '#submit')
  spies.forEach((spy) => {
    expect(spy).not.toHaveBeenCalled()
    spy.mockRestore()
  })
})

test('我的报告 is one tap away from the form', async () => {
  const wx = install(backend().routes)
  const page = await mount('pages/report/index', { scene: 'H001' })
  await tap(page, '#my-reports')
  expect(wx.calls.navigations).toEqual([['navigateTo', '/pages/reports/index']])
})

test('a 503 while the office server is down says when to try again and that a retry sends no second report', async () => {
  const { routes } = backend({
    'POST /api/v1/reports': () => json(503, { error: { code: 'service_unavailable', message: '服务暂时不可用，请稍后重试' } },
      { 'retry-after': '30' }),
  })
  install(routes)
  const page = await mount('pages/report/index', { scene: 'H001' })
  await fill(page)
  await tap(page, '#submit')
  expect(text(page, '#message')).toContain('请在30秒后重试')
  expect(text(page, '#message')).toContain('不会重复提交')
})

// The mini-program against the real backend (see tests/miniprogram/test_end_to_end.py, which starts it).
const { install, office, send } = require('./bridge')
const { mount, type, change, tap, text, find } = require('../mount')
const config = require('../../config')
const client = require('../../api/client')
const drafts = require('../../utils/draft')

const PHOTOS = (process.env.QZBG_E2E_PHOTOS || '').split(',')
const SCENE = process.env.QZBG_E2E_SCENE

config.apiBase = process.env.QZBG_E2E_API
config.statusTemplateId = process.env.QZBG_E2E_TEMPLATE

// Waits for what the page shows after the server answered (an event, not a time).
async function until(check, what) {
  for (let i = 0; i < 3000; i += 1) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`never happened: ${what}`)
}

async function fill(page, name = '王医生') {
  const abuse = page.instance.data.categories.find((c) => c.code === 'abuse_injury')
  await change(page, '#categories', [abuse.code])
  await type(page, '#reporter-name', name)
  await type(page, '#reporter-phone', '13800000000')
  await change(page, '#victim-gender', '1')
  await type(page, '#victim-age', '9')
  await type(page, '#incident-description', '孩子手臂有多处淤青，称被家人打伤。')
}

async function openForm() {
  const page = await mount('pages/report/index', { scene: SCENE })
  await until(() => !page.instance.data.loading, 'the form loaded')
  return page
}

const receipts = (wx) => wx.calls.navigations.filter(([, url]) => url.startsWith('/pages/receipt/index'))

function query(url) {
  return Object.fromEntries(url.split('?')[1].split('&').map((pair) => pair.split('=')))
}

test('login, a report with two photos, the receipt and subscription, the question answered with a photo, the status message', async () => {
  const wx = install('mp-flow')
  const page = await openForm()
  expect(text(page, '#unit')).toBe('市妇幼保健院')
  expect(page.instance.data.categories).toHaveLength(9)
  await fill(page)
  wx.chooseResult(PHOTOS.slice(0, 2).map((p) => ({ tempFilePath: p, fileType: 'image', size: 1200 })))
  await tap(page, '#media >>> .add-media')
  await tap(page, '#submit')
  await until(() => receipts(wx).length === 1, 'the receipt')
  expect(wx.calls.uploads).toHaveLength(2)
  expect(wx.getStorageSync(drafts.KEY)).toBe('')

  const options = query(receipts(wx)[0][1])
  const receipt = await mount('pages/receipt/index', options)
  expect(text(receipt, '#tracking-no')).toMatch(/^QZBG-/)
  wx.subscribeResult({ [config.statusTemplateId]: 'accept' })
  await tap(receipt, '#subscribe')
  await until(() => text(receipt, '#subscribe-message'), 'the subscription recorded')
  expect(text(receipt, '#subscribe-message')).toContain('已开启提醒')
  await office('grant', { login: 'mp-flow', template_id: config.statusTemplateId })

  await office('ask', { report_id: options.id, text: '请补充孩子现在的照片。' })
  const { sent } = await office('deliver')
  expect(sent).toHaveLength(1)
  expect(sent[0].touser).toBe('o-dev-mp-flow')
  expect(JSON.stringify(sent[0].data)).toContain(decodeURIComponent(options.tracking_no))
  expect(sent[0].page).toBe(`pages/report/detail?id=${options.id}`)

  const detail = await mount('pages/report/detail', { id: options.id })
  await until(() => !detail.instance.data.loading, 'the report')
  expect(text(detail, '#status')).toBe('已受理')
  expect(detail.dom.textContent).toContain('请补充孩子现在的照片。')
  await type(detail, '#answer-text', '照片已附上，孩子在病房。')
  wx.chooseResult([{ tempFilePath: PHOTOS[2], fileType: 'image', size: 1200 }])
  await tap(detail, '#answer-media >>> .add-media')
  await tap(detail, '#send-answer')
  await until(() => (text(detail, '#message') || '').includes('回复已发送') && !detail.instance.data.loading, 'the answer sent')
  expect(detail.dom.textContent).toContain('照片已附上，孩子在病房。')
  expect(detail.dom.textContent).toContain('随回复提交的附件 1 个')
  expect((await office('attachments', { report_id: options.id })).count).toBe(3)
})

test('a draft survives a lost network and a killed mini-program, then becomes the report', async () => {
  const wx = install('mp-draft')
  const first = await openForm()
  await fill(first, '李老师')
  wx.bridge.offline = true
  await tap(first, '#submit')
  await until(() => (text(first, '#message') || '').includes('网络连接中断'), 'the offline message')

  const restored = await openForm() // WeChat killed the mini-program; it opens again
  expect(text(restored, '#notice')).toContain('已恢复')
  expect(restored.instance.data.form.reporter.name).toBe('李老师')
  wx.bridge.offline = false
  await tap(restored, '#submit')
  await until(() => receipts(wx).length === 1, 'the receipt')
  const { items } = await client.call('listReports')
  expect(items).toHaveLength(1)
  const report = await client.call('getReport', { params: { report_id: items[0].id } })
  expect(report.reporter.name).toBe('李老师')
})

test('a double tap on 提交报告 makes one report', async () => {
  const wx = install('mp-double')
  const page = await openForm()
  await fill(page)
  find(page, '#submit').dispatchEvent('tap')
  find(page, '#submit').dispatchEvent('tap')
  await until(() => receipts(wx).length === 1, 'the receipt')
  expect((await client.call('listReports')).items).toHaveLength(1)
  expect(wx.calls.requests.filter((r) => r.method === 'POST' && r.url.endsWith('/api/v1/reports'))).toHaveLength(1)
})

test('a connection dropped after the server took the report: the retry makes no second report', async () => {
  const wx = install('mp-dropped')
  const page = await openForm()
  await fill(page)
  wx.bridge.dropNextResponse = true
  await tap(page, '#submit')
  await until(() => (text(page, '#message') || '').includes('不会重复提交'), 'the dropped-connection message')
  await tap(page, '#submit')
  await until(() => receipts(wx).length === 1, 'the receipt')
  const { items } = await client.call('listReports')
  expect(items).toHaveLength(1)
  expect(decodeURIComponent(query(receipts(wx)[0][1]).tracking_no)).toBe(items[0].tracking_no)
})

test('a 429 says when to try again, from Retry-After, and keeps the draft', async () => {
  const wx = install('mp-limited')
  for (let n = 1; n <= 3; n += 1) {
    const page = await openForm()
    await fill(page, `报告人${n}`)
    await tap(page, '#submit')
    await until(() => receipts(wx).length === n, `receipt ${n}`)
  }
  const page = await openForm()
  await fill(page, '报告人4')
  await tap(page, '#submit')
  await until(() => !page.instance.data.submitting && text(page, '#message'), 'the refusal')
  expect(text(page, '#message')).toMatch(/请在\d+秒后重试/)
  expect(wx.getStorageSync(drafts.KEY).form.reporter.name).toBe('报告人4')
  expect((await client.call('listReports')).items).toHaveLength(3)
})

test('a token the server no longer takes is renewed with wx.login once, silently', async () => {
  const wx = install('mp-renew')
  const page = await openForm()
  await fill(page)
  await tap(page, '#submit')
  await until(() => receipts(wx).length === 1, 'the receipt')
  expect(wx.bridge.logins).toBe(1)
  const { token } = wx.getStorageSync(client.TOKEN_KEY)
  const out = await send(`${process.env.QZBG_E2E_API}/api/v1/auth/logout`, 'POST', { Authorization: `Bearer ${token}` })
  expect(out.statusCode).toBe(204)
  await office('reopen', { login: 'mp-renew' })

  const list = await mount('pages/reports/index')
  await until(() => !list.instance.data.loading, 'the list')
  expect(list.instance.data.items).toHaveLength(1)
  expect(text(list, '#message')).toBeNull()
  expect(wx.bridge.logins).toBe(2)
})

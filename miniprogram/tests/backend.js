// A small in-memory stand-in for the backend's routes, for the unit tests (the end-to-end tests use the real one).
const { json } = require('./fake-wx')

const CATEGORIES = [
  { code: 'genital_injury', label: '生殖器官损伤' },
  { code: 'abuse_injury', label: '遭受虐待' },
  { code: 'abandonment', label: '被遗弃' },
]
const UNIT = { id: 7, code: 'H001', name: '市妇幼保健院', type: 'hospital' }
const REPORT_ID = '11111111-2222-4333-8444-555555555555'

function backend(overrides = {}) {
  const state = { reports: [], attachments: [], answers: [], subscriptions: [] }
  const routes = {
    'POST /api/v1/auth/wechat': () => json(200, { token: 'token-1', expires_in: 7200, reporter: { id: 'r', phone_verified: false, unit: null } }),
    'GET /api/v1/categories': () => json(200, { items: CATEGORIES }),
    'GET /api/v1/districts': () => json(200, { items: [{ code: '430281', name: '醴陵市' }] }),
    'GET /api/v1/units/scene/{scene}': (req) => (req.url.endsWith('/H001') ? json(200, UNIT)
      : json(404, { error: { code: 'not_found', message: '未找到' } })),
    'POST /api/v1/reports': (req) => {
      const again = state.reports.find((r) => r.body.client_id === req.data.client_id)
      const created = { id: REPORT_ID, tracking_no: 'QZBG-20261207-0001', status: 'submitted', submitted_at: '2026-12-07T10:00:00+08:00' }
      if (again) return json(200, created)
      state.reports.push({ body: req.data })
      return json(201, created)
    },
    'POST /api/v1/reports/{report_id}/attachments': (req) => {
      state.attachments.push(req.filePath)
      return json(201, { id: `a${state.attachments.length}`, filename: 'x.jpg', size: 10, content_type: 'image/jpeg' })
    },
    'POST /api/v1/subscriptions': (req) => {
      state.subscriptions.push(req.data)
      return json(200, { granted: { [req.data.template_ids[0]]: 1 } })
    },
    'POST /api/v1/auth/phone': () => json(200, { phone_verified: true, phone_masked: '138****0000' }),
    'GET /api/v1/me': () => json(200, { id: 'r', phone_verified: true, unit: null, phone: '13800000000', phone_masked: '138****0000' }),
    ...overrides,
  }
  return { routes, state }
}

module.exports = { backend, CATEGORIES, UNIT, REPORT_ID }

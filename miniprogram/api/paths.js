// Every call the mini-program makes to the backend, by name: the one table the contract test
// (tests/miniprogram/test_client_contract.py) checks against /api/v1/openapi.json.
module.exports = {
  loginWechat: { method: 'POST', path: '/api/v1/auth/wechat', auth: false },
  verifyPhone: { method: 'POST', path: '/api/v1/auth/phone', auth: true },
  me: { method: 'GET', path: '/api/v1/me', auth: true },
  categories: { method: 'GET', path: '/api/v1/categories', auth: false },
  districts: { method: 'GET', path: '/api/v1/districts', auth: false },
  unitByScene: { method: 'GET', path: '/api/v1/units/scene/{scene}', auth: false },
  createReport: { method: 'POST', path: '/api/v1/reports', auth: true },
  listReports: { method: 'GET', path: '/api/v1/reports', auth: true },
  getReport: { method: 'GET', path: '/api/v1/reports/{report_id}', auth: true },
  uploadAttachment: { method: 'POST', path: '/api/v1/reports/{report_id}/attachments', auth: true, upload: true },
  answerQuestion: { method: 'POST', path: '/api/v1/reports/{report_id}/answers', auth: true },
  subscribe: { method: 'POST', path: '/api/v1/subscriptions', auth: true },
}

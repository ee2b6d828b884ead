// What an office changes before it publishes its copy (docs/miniprogram.md): the server it runs and the
// subscribe-message template it chose in the WeChat admin console (the same id as QZBG_WECHAT_STATUS_TEMPLATE_ID).
module.exports = {
  apiBase: 'https://qzbg.example.gov.cn',
  statusTemplateId: 'TPL_STATUS_CHANGE',
  policePhone: '110',
  draftMaxAgeMs: 24 * 60 * 60 * 1000,
  maxMedia: 9,
}

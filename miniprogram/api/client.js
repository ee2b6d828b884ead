// The backend's JSON API: JSON requests and file uploads with the reporter's bearer token, logged in with
// wx.login and renewed silently (a 401 logs in again once, then tells the user). Errors are ApiError with the
// server's zh-CN message and field errors; nothing personal is ever written to the console.
const config = require('../config')
const paths = require('./paths')

const TOKEN_KEY = 'qzbg.session'
const NETWORK_MESSAGE = '网络连接中断，请检查网络后重试。已填写的内容保存在手机上。'
const LOGIN_MESSAGE = '登录已失效，重新登录也未成功。请退出小程序后重新打开。'
const clock = { now: () => Date.now() }

class ApiError extends Error {
  constructor({ status = 0, code = 'network_error', message = NETWORK_MESSAGE, fields = {}, retryAfter = null } = {}) {
    super(message)
    this.status = status
    this.code = code
    this.fields = fields
    this.retryAfter = retryAfter
  }

  // A dropped connection, a rate limit or an outage: the same request (same client_id) may be sent again.
  get retryable() {
    return this.status === 0 || this.status === 429 || this.status === 503
  }
}

function urlFor(name, params = {}, query = null) {
  const op = paths[name]
  if (!op) throw new Error(`unknown API call ${name}`)
  let path = op.path.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(params[key]))
  if (query) {
    const pairs = Object.keys(query).filter((k) => query[k] !== undefined && query[k] !== null)
      .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(query[k])}`)
    if (pairs.length) path += `?${pairs.join('&')}`
  }
  return config.apiBase + path
}

function header(response, name) {
  const headers = response.header || {}
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase())
  return key ? headers[key] : undefined
}

function toError(response) {
  let body = response.data
  if (typeof body === 'string') {
    try { body = JSON.parse(body) } catch (e) { body = null }
  }
  const error = (body && body.error) || {}
  const retryAfter = Number(header(response, 'Retry-After'))
  return new ApiError({
    status: response.statusCode,
    code: error.code || 'http_error',
    message: error.message || `服务暂时不可用（${response.statusCode}），请稍后重试`,
    fields: error.fields || {},
    retryAfter: Number.isFinite(retryAfter) ? retryAfter : null,
  })
}

function session() {
  const stored = wx.getStorageSync(TOKEN_KEY)
  return stored && stored.token && stored.expiresAt > clock.now() ? stored : null
}

function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({ success: (res) => resolve(res.code), fail: () => reject(new ApiError()) })
  })
}

function send(name, { params, query, data, token } = {}) {
  const op = paths[name]
  return new Promise((resolve, reject) => {
    const headers = { Accept: 'application/json' }
    if (token) headers.Authorization = `Bearer ${token}`
    const options = { url: urlFor(name, params, query), method: op.method, header: headers, timeout: 20000 }
    if (op.method !== 'GET') {
      headers['Content-Type'] = 'application/json'
      options.data = data || {}
    }
    options.success = (response) => {
      if (response.statusCode >= 200 && response.statusCode < 300) resolve(response)
      else reject(toError(response))
    }
    options.fail = () => reject(new ApiError())
    wx.request(options)
  })
}

let loggingIn = null

// wx.login, then the backend's token; one login at a time however many calls need it.
function login() {
  if (!loggingIn) {
    loggingIn = wxLogin()
      .then((code) => send('loginWechat', { data: { code } }))
      .then((response) => {
        const body = response.data
        const stored = { token: body.token, expiresAt: clock.now() + body.expires_in * 1000, reporter: body.reporter }
        wx.setStorageSync(TOKEN_KEY, stored)
        return stored
      })
      .finally(() => { loggingIn = null })
  }
  return loggingIn
}

function logout() {
  wx.removeStorageSync(TOKEN_KEY)
}

// Runs ``attempt(token)`` with a valid token; on a 401 logs in once more and tries again, then gives up in words.
async function authorized(attempt) {
  let current = session() || (await login())
  try {
    return await attempt(current.token)
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error
  }
  logout()
  current = await login()
  try {
    return await attempt(current.token)
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      logout()
      throw new ApiError({ status: 401, code: 'unauthorized', message: LOGIN_MESSAGE })
    }
    throw error
  }
}

// One API call by its name in paths.js; resolves to the response body.
function call(name, options = {}) {
  const op = paths[name]
  const run = (token) => send(name, { ...options, token }).then((response) => response.data)
  return op.auth ? authorized(run) : run(null)
}

// One file to a report: ``onProgress(percent)`` while it goes; resolves to the attachment's JSON.
// ``onTask(task)`` receives the UploadTask so the page can abort it.
function upload(reportId, filePath, { onProgress, onTask } = {}) {
  const attempt = (token) => new Promise((resolve, reject) => {
    const task = wx.uploadFile({
      url: urlFor('uploadAttachment', { report_id: reportId }),
      filePath,
      name: 'file',
      header: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      timeout: 120000,
      success: (response) => {
        if (response.statusCode >= 200 && response.statusCode < 300) {
          resolve(typeof response.data === 'string' ? JSON.parse(response.data) : response.data)
        } else reject(toError(response))
      },
      fail: () => reject(new ApiError()),
    })
    if (task && onProgress) task.onProgressUpdate((res) => onProgress(res.progress))
    if (task && onTask) onTask(task)
  })
  return authorized(attempt)
}

module.exports = { call, upload, login, logout, session, ApiError, clock, urlFor, TOKEN_KEY }

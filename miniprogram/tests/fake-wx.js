// A fake ``wx`` for the unit tests: wx.request and wx.uploadFile answered by route handlers, storage in memory,
// and a record of every call the pages make to WeChat (navigation, phone calls, media, subscriptions).
const config = require('../config')

function fakeWx(routes = {}) {
  const storage = new Map()
  const calls = { requests: [], uploads: [], navigations: [], phoneCalls: [], subscribeRequests: [], logins: 0 }
  let chosen = []
  let subscribeAnswer = {}
  let loginCodes = 0

  function route(method, url) {
    const path = url.replace(config.apiBase, '').split('?')[0]
    const exact = routes[`${method} ${path}`]
    if (exact) return exact
    const key = Object.keys(routes).find((k) => {
      const [m, pattern] = k.split(' ')
      return m === method && new RegExp(`^${pattern.replace(/\{\w+\}/g, '[^/]+')}$`).test(path)
    })
    return key ? routes[key] : null
  }

  function answer(handler, request, options) {
    Promise.resolve().then(() => {
      const result = handler ? handler(request) : { statusCode: 404, data: { error: { code: 'not_found', message: '未找到' } } }
      if (result === 'fail') options.fail && options.fail({ errMsg: 'request:fail' })
      else options.success && options.success({ header: {}, ...result })
    })
  }

  const wx = {
    calls,
    routes,
    storage,
    chooseResult(files) { chosen = files },
    subscribeResult(result) { subscribeAnswer = result },
    login(options) {
      calls.logins += 1
      loginCodes += 1
      Promise.resolve().then(() => options.success({ code: `code-${loginCodes}` }))
    },
    request(options) {
      const request = { method: options.method, url: options.url, header: options.header, data: options.data }
      calls.requests.push(request)
      answer(route(options.method, options.url), request, options)
      return { abort() {} }
    },
    uploadFile(options) {
      const request = { method: 'POST', url: options.url, header: options.header, filePath: options.filePath, name: options.name }
      calls.uploads.push(request)
      const listeners = []
      const handler = route('POST', options.url)
      Promise.resolve().then(() => {
        listeners.forEach((l) => l({ progress: 50 }))
        const result = handler ? handler(request) : { statusCode: 404, data: '{}' }
        if (result === 'fail') { options.fail && options.fail({ errMsg: 'uploadFile:fail' }); return }
        listeners.forEach((l) => l({ progress: 100 }))
        options.success({ header: {}, ...result, data: typeof result.data === 'string' ? result.data : JSON.stringify(result.data) })
      })
      return { onProgressUpdate(fn) { listeners.push(fn) }, abort() {} }
    },
    setStorage({ key, data, success }) { storage.set(key, JSON.parse(JSON.stringify(data))); success && success() },
    setStorageSync(key, data) { storage.set(key, JSON.parse(JSON.stringify(data))) },
    getStorageSync(key) { return storage.has(key) ? storage.get(key) : '' },
    removeStorageSync(key) { storage.delete(key) },
    makePhoneCall({ phoneNumber }) { calls.phoneCalls.push(phoneNumber) },
    chooseMedia(options) { Promise.resolve().then(() => options.success({ tempFiles: chosen })) },
    requestSubscribeMessage(options) {
      calls.subscribeRequests.push(options.tmplIds)
      Promise.resolve().then(() => options.success({ errMsg: 'requestSubscribeMessage:ok', ...subscribeAnswer }))
    },
    navigateTo({ url }) { calls.navigations.push(['navigateTo', url]) },
    redirectTo({ url }) { calls.navigations.push(['redirectTo', url]) },
    reLaunch({ url }) { calls.navigations.push(['reLaunch', url]) },
    stopPullDownRefresh() {},
  }
  return wx
}

// Installs a fresh fake over simulate's own ``wx`` mock for one test.
function install(routes) {
  const fake = fakeWx(routes)
  global.wx = Object.assign(global.wx || {}, fake)
  return global.wx
}

// Lets queued promises and callbacks run (no timers, no waiting for speed).
async function settle(rounds = 20) {
  for (let i = 0; i < rounds; i += 1) await Promise.resolve()
  await new Promise((resolve) => setTimeout(resolve, 0))
}

const json = (statusCode, data, header = {}) => ({ statusCode, data, header })

module.exports = { fakeWx, install, settle, json }

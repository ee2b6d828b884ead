// A ``wx`` whose wx.request and wx.uploadFile go to the real backend over HTTP (Node's http module); wx.login
// hands out the fake WeChat's login codes; storage in memory. Switches: ``offline`` (nothing reaches the server)
// and ``dropNextResponse`` (the server does the work, the phone never hears the answer).
const fs = require('fs')
const http = require('http')
const path = require('path')
const { fakeWx } = require('../fake-wx')

function send(url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, headers }, (response) => {
      const chunks = []
      response.on('data', (chunk) => chunks.push(chunk))
      response.on('end', () => resolve({ statusCode: response.statusCode, header: response.headers,
        text: Buffer.concat(chunks).toString('utf8') }))
    })
    request.on('error', reject)
    if (body) request.write(body)
    request.end()
  })
}

function parse(text) {
  try { return JSON.parse(text) } catch (e) { return text }
}

function bridge(login) {
  const wx = fakeWx({})
  const state = { offline: false, dropNextResponse: false, logins: 0 }
  wx.bridge = state

  function deliver(promise, options, shape) {
    if (state.offline) {
      Promise.resolve().then(() => options.fail && options.fail({ errMsg: 'request:fail offline' }))
      return
    }
    const drop = state.dropNextResponse
    state.dropNextResponse = false
    promise.then((response) => {
      if (drop) options.fail && options.fail({ errMsg: 'request:fail connection reset' })
      else options.success(shape(response))
    }, () => options.fail && options.fail({ errMsg: 'request:fail' }))
  }

  wx.login = (options) => {
    state.logins += 1
    Promise.resolve().then(() => options.success({ code: `dev-${login}` }))
  }

  wx.request = (options) => {
    wx.calls.requests.push({ method: options.method, url: options.url, data: options.data })
    const body = options.data && options.method !== 'GET' ? Buffer.from(JSON.stringify(options.data)) : null
    const promise = state.offline ? Promise.resolve() : send(options.url, options.method, options.header, body)
    deliver(promise, options, (r) => ({ statusCode: r.statusCode, header: r.header, data: parse(r.text) }))
    return { abort() {} }
  }

  wx.uploadFile = (options) => {
    wx.calls.uploads.push({ url: options.url, filePath: options.filePath })
    const listeners = []
    const boundary = `----qzbg${Date.now().toString(16)}`
    const file = state.offline ? Buffer.alloc(0) : fs.readFileSync(options.filePath)
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${options.name}"; ` +
        `filename="${path.basename(options.filePath)}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      file,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ])
    const headers = { ...options.header, 'Content-Type': `multipart/form-data; boundary=${boundary}`,
      'Content-Length': body.length }
    const promise = state.offline ? Promise.resolve() : send(options.url, 'POST', headers, body).then((r) => {
      listeners.forEach((l) => l({ progress: 100, totalBytesSent: body.length, totalBytesExpectedToSend: body.length }))
      return r
    })
    deliver(promise, options, (r) => ({ statusCode: r.statusCode, header: r.header, data: r.text }))
    return { onProgressUpdate(fn) { listeners.push(fn) }, abort() {} }
  }
  return wx
}

function install(login) {
  global.wx = Object.assign(global.wx || {}, bridge(login))
  return global.wx
}

async function office(action, body = {}) {
  const response = await send(`${process.env.QZBG_E2E_OFFICE}/${action}`, 'POST',
    { 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify(body)))
  if (response.statusCode !== 200) throw new Error(`office ${action}: ${response.statusCode} ${response.text}`)
  return JSON.parse(response.text)
}

module.exports = { install, office, send }

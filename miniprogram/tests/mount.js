// Renders a page or component with miniprogram-simulate and drives it like a user.
const path = require('path')
const simulate = require('miniprogram-simulate')
const { settle } = require('./fake-wx')

const ROOT = path.join(__dirname, '..')

// simulate.load runs a page's JS through require, which jest caches: each page is loaded once per test file and
// rendered afresh for every mount (a new instance, as when WeChat opens the page again). The compiled templates
// are global, so a test file renders one page (with its components).
const loaded = {}

async function mount(page, options = {}) {
  loaded[page] = loaded[page] || simulate.load(path.join(ROOT, page))
  const id = loaded[page]
  const comp = simulate.render(id)
  comp.attach(document.createElement('parent-wrapper'))
  if (comp.instance.onLoad) await comp.instance.onLoad(options)
  await settle()
  return comp
}

function find(comp, selector) {
  const node = comp.querySelector(selector)
  if (!node) throw new Error(`nothing matches ${selector}`)
  return node
}

async function type(comp, selector, value) {
  find(comp, selector).dispatchEvent('input', { detail: { value } })
  await settle()
}

async function change(comp, selector, value) {
  find(comp, selector).dispatchEvent('change', { detail: { value } })
  await settle()
}

async function tap(comp, selector) {
  find(comp, selector).dispatchEvent('tap')
  await settle()
}

function text(comp, selector) {
  const node = comp.querySelector(selector)
  return node ? node.dom.textContent : null
}

module.exports = { mount, find, type, change, tap, text, settle, ROOT }

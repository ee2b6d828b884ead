// Renders a page or component with miniprogram-simulate and drives it like a user.
const path = require('path')
const simulate = require('miniprogram-simulate')
const { settle } = require('./fake-wx')

const ROOT = path.join(__dirname, '..')

// simulate.load runs a page's JS through require, which jest caches: each page is loaded once per test file and
// rendered afresh for every mount (a new instance, as when WeChat opens the page again). Every page is compiled
// from the project's root, so that all share one compiled template set.
// The custom components are loaded once too, and every page is given their ids (a component's JS, cached, would
// not register it a second time for a second page).
const loaded = {}
const COMPONENTS = { 'media-list': 'components/media-list/index' }

function load(file) {
  if (!loaded[file]) {
    const usingComponents = {}
    if (!Object.values(COMPONENTS).includes(file)) {
      Object.keys(COMPONENTS).forEach((tag) => { usingComponents[tag] = load(COMPONENTS[tag]) })
    }
    loaded[file] = simulate.load(path.join(ROOT, file), { rootPath: ROOT, usingComponents })
  }
  return loaded[file]
}

async function mount(page, options = {}) {
  const id = load(page)
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

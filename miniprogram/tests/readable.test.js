// Readable at WeChat's largest font size (issue 16 item 6): the text grows with the user's setting only if no
// style pins it, so every style sheet sizes text in rpx or em (never px), gives no text container a fixed height
// (min-height only; an image thumbnail may be square), never clips text with overflow, and every input and
// textarea names itself to a screen reader.
const fs = require('fs')
const path = require('path')

const ROOT = path.join(__dirname, '..')
const IMAGE_SELECTORS = new Set(['.thumb'])

function files (suffix, dir = ROOT) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name === 'tests') return []
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return files(suffix, full)
    return entry.name.endsWith(suffix) ? [full] : []
  })
}

function rules (css) {
  const found = []
  const text = css.replace(/\/\*[\s\S]*?\*\//g, '')
  for (const match of text.matchAll(/([^{}]+)\{([^{}]*)\}/g)) {
    const declarations = match[2].split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
      const at = d.indexOf(':')
      return [d.slice(0, at).trim(), d.slice(at + 1).trim()]
    })
    found.push({ selector: match[1].trim(), declarations })
  }
  return found
}

const sheets = files('.wxss')

test('there are style sheets to check', () => {
  expect(sheets.length).toBeGreaterThan(3)
})

test.each(sheets.map((f) => [path.relative(ROOT, f)]))('%s sizes text in rpx or em and pins no text height', (name) => {
  const problems = []
  for (const { selector, declarations } of rules(fs.readFileSync(path.join(ROOT, name), 'utf8'))) {
    for (const [property, value] of declarations) {
      if (property === 'font-size' && !/^[0-9.]+(rpx|em|rem|%)$/.test(value)) problems.push(`${selector}: font-size ${value}`)
      if ((property === 'height' || property === 'max-height') && !IMAGE_SELECTORS.has(selector)) {
        problems.push(`${selector}: ${property} ${value}`)
      }
      if (/^overflow/.test(property) && value === 'hidden') problems.push(`${selector}: overflow hidden`)
      if (property === 'white-space' && value === 'nowrap') problems.push(`${selector}: white-space nowrap`)
    }
  }
  expect(problems).toEqual([])
})

test('every input and textarea is named for a screen reader', () => {
  const unnamed = []
  for (const file of files('.wxml')) {
    const markup = fs.readFileSync(file, 'utf8')
    for (const match of markup.matchAll(/<(input|textarea)\b[^>]*>/g)) {
      if (!/aria-label=/.test(match[0])) unnamed.push(`${path.relative(ROOT, file)}: ${match[0].slice(0, 60)}`)
    }
  }
  expect(unnamed).toEqual([])
})

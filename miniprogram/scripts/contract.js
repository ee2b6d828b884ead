// Prints, as JSON, every API call the mini-program makes and its field rules (patterns as their source), for
// tests/miniprogram/test_client_contract.py to check against /api/v1/openapi.json. Plain node: no packages needed.
const paths = require('../api/paths')
const { REPORT_RULES, ANSWER_RULES } = require('../api/rules')

function plain(rules) {
  const out = {}
  Object.keys(rules).forEach((key) => {
    const rule = { ...rules[key] }
    if (rule.pattern) rule.pattern = rule.pattern.source
    out[key] = rule
  })
  return out
}

process.stdout.write(JSON.stringify({ paths, rules: { ...plain(REPORT_RULES), ...plain(ANSWER_RULES) } }))

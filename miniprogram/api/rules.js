// The server's rules for the report body and the answer, as hints on the phone. The server stays the judge
// (its zh-CN field errors are shown beside the fields); the contract test keeps these equal to the OpenAPI
// schema (maxLength, minLength, required, enum, minimum, maximum).
const MOBILE_OR_LANDLINE = /^(?:1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?)$/
const ID_NUMBER = /^[1-9][0-9]{16}[0-9Xx]$/

const GENDERS = [
  { value: 'female', label: '女' },
  { value: 'male', label: '男' },
  { value: 'unknown', label: '不清楚' },
]

// schema: the OpenAPI component holding the field; name: its property there.
const REPORT_RULES = {
  categories: { schema: 'ReportIn', name: 'categories', required: true, minItems: 1, maxItems: 9, label: '情形' },
  'reporter.name': { schema: 'ReporterIn', name: 'name', required: true, minLength: 1, maxLength: 50, label: '报告人姓名' },
  'reporter.phone': { schema: 'ReporterIn', name: 'phone', required: true, maxLength: 20, pattern: MOBILE_OR_LANDLINE, label: '联系电话' },
  'reporter.position': { schema: 'ReporterIn', name: 'position', maxLength: 50, label: '职务' },
  'victim.name': { schema: 'VictimIn', name: 'name', maxLength: 50, label: '未成年人姓名' },
  'victim.gender': { schema: 'VictimIn', name: 'gender', required: true, enum: GENDERS.map((g) => g.value), label: '性别' },
  'victim.age': { schema: 'VictimIn', name: 'age', integer: true, minimum: 0, maximum: 17, label: '年龄' },
  'victim.id_number': { schema: 'VictimIn', name: 'id_number', pattern: ID_NUMBER, label: '身份证号码' },
  'victim.address': { schema: 'VictimIn', name: 'address', maxLength: 200, label: '住址' },
  'victim.guardian_name': { schema: 'VictimIn', name: 'guardian_name', maxLength: 50, label: '监护人姓名' },
  'victim.guardian_phone': { schema: 'VictimIn', name: 'guardian_phone', maxLength: 20, pattern: MOBILE_OR_LANDLINE, label: '监护人电话' },
  'incident.discovered_at': { schema: 'IncidentIn', name: 'discovered_at', required: true, label: '发现时间' },
  'incident.location': { schema: 'IncidentIn', name: 'location', maxLength: 200, label: '发现地点' },
  'incident.description': { schema: 'IncidentIn', name: 'description', required: true, minLength: 10, maxLength: 5000, label: '情况描述' },
  'suspect.name': { schema: 'SuspectIn', name: 'name', maxLength: 50, label: '疑似侵害人姓名' },
  'suspect.relation': { schema: 'SuspectIn', name: 'relation', maxLength: 50, label: '与未成年人关系' },
  'suspect.description': { schema: 'SuspectIn', name: 'description', maxLength: 1000, label: '疑似侵害人情况' },
  'police.station': { schema: 'PoliceIn', name: 'station', maxLength: 100, label: '报警的派出所' },
}

const ANSWER_RULES = {
  text: { schema: 'AnswerIn', name: 'text', required: true, minLength: 1, maxLength: 5000, label: '回复内容' },
  attachment_ids: { schema: 'AnswerIn', name: 'attachment_ids', minItems: 0, maxItems: 9, label: '附件' },
}

function blank(value) {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '') ||
    (Array.isArray(value) && value.length === 0)
}

// Hints for one value: a list of zh-CN messages, empty when the value looks right.
function check(rule, value) {
  if (blank(value)) return rule.required ? [rule.minItems ? `请至少选择一项${rule.label}` : `请填写${rule.label}`] : []
  const errors = []
  if (Array.isArray(value)) {
    if (rule.maxItems && value.length > rule.maxItems) errors.push(`${rule.label}最多选择${rule.maxItems}项`)
    return errors
  }
  const text = String(value).trim()
  if (rule.minLength && text.length < rule.minLength) errors.push(`${rule.label}至少${rule.minLength}个字`)
  if (rule.maxLength && text.length > rule.maxLength) errors.push(`${rule.label}最多${rule.maxLength}个字`)
  if (rule.pattern && !rule.pattern.test(text)) errors.push(`${rule.label}格式不正确`)
  if (rule.integer) {
    const n = Number(text)
    if (!/^[0-9]+$/.test(text) || n < rule.minimum || n > rule.maximum) {
      errors.push(`${rule.label}应在${rule.minimum}至${rule.maximum}岁之间`)
    }
  }
  if (rule.enum && !rule.enum.includes(text)) errors.push(`请选择${rule.label}`)
  return errors
}

// Hints for a whole form, keyed by the dotted path (the server's ``fields`` keys).
function checkAll(rules, values) {
  const errors = {}
  Object.keys(rules).forEach((path) => {
    const found = check(rules[path], values[path])
    if (found.length) errors[path] = found
  })
  return errors
}

module.exports = { REPORT_RULES, ANSWER_RULES, GENDERS, check, checkAll, MOBILE_OR_LANDLINE }

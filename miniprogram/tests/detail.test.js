const { install, json } = require('./fake-wx')
const { mount, type, tap, text } = require('./mount')
const { backend, REPORT_ID } = require('./backend')

const QUESTION_ID = '99999999-8888-4777-8666-555555555555'

function detail(answered) {
  return {
    id: REPORT_ID, tracking_no: 'QZBG-20261207-0001', status: 'received', status_label: '已受理',
    submitted_at: '2026-12-07T02:00:00+00:00', updated_at: '2026-12-07T03:00:00+00:00', categories: ['abuse_injury'],
    urgent: false, training: false, unit_id: 7, reporter: { name: '王医生', phone: '13800000000', position: null },
    victim: { gender: 'female' }, incident: { discovered_at: '2026-12-07T10:00:00+08:00', description: '接诊时发现……' },
    suspect: null, police: null, attachments: [],
    timeline: [{ at: '2026-12-07T02:00:00+00:00', status: 'submitted', label: '已提交' },
      { at: '2026-12-07T03:00:00+00:00', status: 'received', label: '已受理' }],
    questions: [{ id: QUESTION_ID, asked_at: '2026-12-07T03:00:00+00:00', text: '孩子现在在哪里？',
      answered_at: answered ? '2026-12-07T04:00:00+00:00' : null, answer: answered ? '在病房' : null,
      attachments: answered ? [{ id: 'a1', filename: 'answer.jpg', size: 1024, content_type: 'image/jpeg' }] : [] }],
  }
}

test('the detail shows status, timeline and the question, and the answer goes with a photo', async () => {
  let answered = false
  const { routes, state } = backend({
    'GET /api/v1/reports/{report_id}': () => json(200, detail(answered)),
    'POST /api/v1/reports/{report_id}/answers': (req) => {
      state.answers.push(req.data)
      answered = true
      return json(201, { id: QUESTION_ID, question_id: QUESTION_ID, answered_at: '2026-12-07T04:00:00+00:00' })
    },
  })
  const wx = install(routes)
  wx.chooseResult([{ tempFilePath: 'wxfile://answer.jpg', fileType: 'image', size: 1024 }])
  const page = await mount('pages/report/detail', { id: REPORT_ID })
  expect(text(page, '#status')).toBe('已受理')
  expect(page.dom.textContent).toContain('2026-12-07 11:00')
  expect(page.dom.textContent).toContain('孩子现在在哪里？')
  expect(page.dom.textContent).toContain('请在下方回复')

  await tap(page, '#send-answer')
  expect(text(page, '#answer-error')).toBe('请填写回复内容')
  expect(state.answers).toEqual([])

  await type(page, '#answer-text', '在病房')
  await tap(page, '#answer-media >>> .add-media')
  await tap(page, '#send-answer')
  expect(state.attachments).toEqual(['wxfile://answer.jpg'])
  expect(state.answers).toEqual([{ question_id: QUESTION_ID, text: '在病房', attachment_ids: ['a1'] }])
  expect(text(page, '#message')).toContain('回复已发送')
  expect(page.querySelector('#answer-form')).toBeFalsy()
  expect(page.dom.textContent).toContain('您的回复')
  expect(page.dom.textContent).toContain('随回复提交的附件 1 个')
})

test("someone else's report (404) is said plainly", async () => {
  const { routes } = backend({
    'GET /api/v1/reports/{report_id}': () => json(404, { error: { code: 'not_found', message: '未找到' } }),
  })
  install(routes)
  const page = await mount('pages/report/detail', { id: REPORT_ID })
  expect(text(page, '#message')).toBe('找不到这份报告。')
})

test('an answer to a closed report shows the server words and keeps the text', async () => {
  const { routes } = backend({
    'GET /api/v1/reports/{report_id}': () => json(200, detail(false)),
    'POST /api/v1/reports/{report_id}/answers': () => json(409, { error: { code: 'conflict', message: '该报告已办结，无需再回复' } }),
  })
  install(routes)
  const page = await mount('pages/report/detail', { id: REPORT_ID })
  await type(page, '#answer-text', '补充情况')
  await tap(page, '#send-answer')
  expect(text(page, '#message')).toBe('该报告已办结，无需再回复')
  expect(page.instance.data.answerText).toBe('补充情况')
})

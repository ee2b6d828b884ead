// One of the reporter's reports: its status and timeline, and the office's questions with an answer form that
// can carry photos (uploaded first, while the question is open, then the answer's text).
const client = require('../../api/client')
const { ANSWER_RULES, checkAll } = require('../../api/rules')
const { showTime } = require('../../utils/ids')

Component({
  data: { report: null, loading: true, message: '', openQuestion: null, answerText: '', answerMedia: [],
    answerError: '', sending: false },

  methods: {
    onLoad(options = {}) {
      this.reportId = options.id
      return this.load()
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    async load() {
      this.setData({ loading: true })
      try {
        const report = await client.call('getReport', { params: { report_id: this.reportId } })
        report.submittedText = showTime(report.submitted_at)
        report.timeline = report.timeline.map((t) => ({ ...t, atText: showTime(t.at) }))
        report.questions = report.questions.map((q) => ({ ...q, askedText: showTime(q.asked_at), answeredText: showTime(q.answered_at) }))
        const openQuestion = report.questions.find((q) => !q.answered_at) || null
        this.setData({ report, openQuestion })
      } catch (error) {
        this.setData({ message: error.status === 404 ? '找不到这份报告。' : error.message })
      }
      this.setData({ loading: false })
    },

    onAnswerInput(event) {
      this.setData({ answerText: event.detail.value, answerError: '' })
    },

    onAnswerMedia(event) {
      this.setData({ answerMedia: event.detail.media })
    },

    async sendAnswer() {
      if (this.data.sending || !this.data.openQuestion) return
      const errors = checkAll(ANSWER_RULES, { text: this.data.answerText, attachment_ids: this.data.answerMedia })
      if (errors.text) {
        this.setData({ answerError: errors.text.join('；') })
        return
      }
      this.setData({ sending: true, message: '正在发送回复……' })
      const media = this.selectComponent('#answer-media')
      const failed = media ? await media.uploadAll(this.reportId) : 0
      if (failed) {
        this.setData({ sending: false, message: `有${failed}个附件未上传成功，请点「重试」后再发送回复。` })
        return
      }
      // The files went first (the API takes them while the question is open); the answer names them.
      const attachmentIds = (media ? media.data.media : []).map((m) => m.attachmentId).filter(Boolean)
      try {
        await client.call('answerQuestion', { params: { report_id: this.reportId },
          data: { question_id: this.data.openQuestion.id, text: this.data.answerText, attachment_ids: attachmentIds } })
        this.setData({ answerText: '', answerMedia: [], sending: false, message: '回复已发送，检察院会继续处理。' })
        await this.load()
      } catch (error) {
        const fieldError = (error.fields && (error.fields.text || error.fields.question_id)) || null
        this.setData({ sending: false, message: error.message, answerError: fieldError ? fieldError.join('；') : '' })
      }
    },
  },
})

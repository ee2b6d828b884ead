// The report form: the entry of a unit's QR code (``scene``), the district picker without one, the practice form
// with ``training=1``. What is typed is kept as a draft; the report is sent with its client_id, then its photos.
const client = require('../../api/client')
const { REPORT_RULES, GENDERS, checkAll } = require('../../api/rules')
const drafts = require('../../utils/draft')
const { uuid4, cst, nowCst } = require('../../utils/ids')
const config = require('../../config')

const CATEGORIES_KEY = 'qzbg.categories'
const EMPTY_FORM = () => ({
  reporter: { name: '', phone: '', position: '' },
  victim: { name: '', gender: '', age: '', id_number: '', address: '', guardian_name: '', guardian_phone: '',
    has_disability: false },
  incident: { discovered_date: '', discovered_time: '', location: '', description: '' },
  suspect: { name: '', relation: '', description: '' },
  police: { notified: false, station: '' },
})

function get(object, path) {
  return path.split('.').reduce((node, key) => (node == null ? undefined : node[key]), object)
}

function blankToNull(value) {
  if (value === undefined || value === null) return null
  const text = String(value).trim()
  return text === '' ? null : text
}

// Server and client errors keyed "victim.age" become "victim_age" for the template.
function forTemplate(fields) {
  const out = {}
  Object.keys(fields || {}).forEach((path) => { out[path.replace(/\./g, '_')] = fields[path].join('；') })
  return out
}

Component({
  data: {
    loading: true,
    training: false,
    unit: null,
    unitMissing: false,
    districts: [],
    districtIndex: -1,
    categories: [],
    genders: GENDERS,
    genderIndex: -1,
    urgent: false,
    form: EMPTY_FORM(),
    media: [],
    errors: {},
    message: '',
    notice: '',
    submitting: false,
    report: null,
    phoneMasked: '',
    policePhone: config.policePhone,
    maxMedia: config.maxMedia,
  },

  methods: {
    onLoad(options = {}) {
      this.training = options.training === '1'
      this.scene = options.scene ? decodeURIComponent(options.scene) : ''
      const restored = drafts.restore(this.training)
      const now = nowCst(client.clock.now())
      const form = EMPTY_FORM()
      form.incident.discovered_date = now.date
      form.incident.discovered_time = now.time
      let notice = ''
      if (restored.draft) {
        const draft = restored.draft
        this.clientId = draft.clientId
        this.setData({ urgent: !!draft.urgent, media: (draft.media || []).map((m) => ({ ...m, state: 'waiting', progress: 0 })),
          genderIndex: GENDERS.findIndex((g) => g.value === get(draft.form, 'victim.gender')) })
        this.checked = draft.categories || []
        this.districtCode = draft.districtCode || ''
        Object.assign(form, draft.form)
        notice = '已恢复您上次未提交的内容，请核对后提交。'
      } else if (restored.expired) {
        notice = '上次未提交的内容已超过24小时，为保护隐私已自动删除，请重新填写。'
      }
      this.clientId = this.clientId || uuid4()
      this.checked = this.checked || []
      this.setData({ training: this.training, form, notice })
      return this.loadReferences()
    },

    async loadReferences() {
      const jobs = [this.loadCategories()]
      jobs.push(this.scene ? this.loadUnit() : this.loadDistricts())
      if (!client.session()) jobs.push(client.login().catch(() => null))
      await Promise.all(jobs)
      this.setData({ loading: false })
    },

    async loadCategories() {
      let items = wx.getStorageSync(CATEGORIES_KEY) || []
      try {
        items = (await client.call('categories')).items
        wx.setStorageSync(CATEGORIES_KEY, items)
      } catch (error) {
        if (!items.length) this.setData({ message: error.message })
      }
      this.setData({ categories: items.map((c) => ({ ...c, checked: this.checked.includes(c.code) })) })
    },

    async loadUnit() {
      try {
        const unit = await client.call('unitByScene', { params: { scene: this.scene } })
        this.setData({ unit })
      } catch (error) {
        this.setData({ unitMissing: true, message: error.status === 404
          ? '未找到该二维码对应的单位，请选择所在地区后继续填写。' : error.message })
        await this.loadDistricts()
      }
    },

    async loadDistricts() {
      try {
        const { items } = await client.call('districts')
        this.setData({ districts: items, districtIndex: items.findIndex((d) => d.code === this.districtCode) })
      } catch (error) {
        this.setData({ message: error.message })
      }
    },

    keep() {
      if (this.data.report) return // the office has it: nothing is kept on the phone any more
      drafts.save(this.training, {
        clientId: this.clientId, form: this.data.form, categories: this.checked, urgent: this.data.urgent,
        districtCode: this.districtCode || '', media: this.data.media.map((m) => ({ path: m.path, type: m.type, size: m.size })),
      })
    },

    onInput(event) {
      const path = event.currentTarget.dataset.path
      const value = event.detail.value
      this.setData({ [`form.${path}`]: value, [`errors.${path.replace(/\./g, '_')}`]: '' })
      this.keep()
    },

    onSwitch(event) {
      const path = event.currentTarget.dataset.path
      this.setData({ [`form.${path}`]: !!event.detail.value })
      this.keep()
    },

    onUrgent(event) {
      this.setData({ urgent: !!event.detail.value })
      this.keep()
    },

    onCategories(event) {
      this.checked = event.detail.value
      this.setData({
        categories: this.data.categories.map((c) => ({ ...c, checked: this.checked.includes(c.code) })),
        'errors.categories': '',
      })
      this.keep()
    },

    onGender(event) {
      const index = Number(event.detail.value)
      this.setData({ genderIndex: index, 'form.victim.gender': GENDERS[index].value, 'errors.victim_gender': '' })
      this.keep()
    },

    onDistrict(event) {
      const index = Number(event.detail.value)
      this.districtCode = this.data.districts[index].code
      this.setData({ districtIndex: index })
      this.keep()
    },

    callPolice() {
      wx.makePhoneCall({ phoneNumber: config.policePhone })
    },

    async onPhoneNumber(event) {
      const code = event.detail && event.detail.code
      if (!code) {
        this.setData({ message: '未获取手机号。您也可以直接填写联系电话。' })
        return
      }
      try {
        const verified = await client.call('verifyPhone', { data: { code } })
        const me = await client.call('me')
        this.setData({ phoneMasked: verified.phone_masked, 'form.reporter.phone': me.phone || this.data.form.reporter.phone,
          'errors.reporter_phone': '' })
        this.keep()
      } catch (error) {
        this.setData({ message: error.message })
      }
    },

    onMediaChange(event) {
      this.setData({ media: event.detail.media })
      this.keep()
    },

    values() {
      const values = { categories: this.checked }
      Object.keys(REPORT_RULES).forEach((path) => {
        if (path !== 'categories' && path !== 'incident.discovered_at') values[path] = get(this.data.form, path)
      })
      const incident = this.data.form.incident
      values['incident.discovered_at'] = cst(incident.discovered_date, incident.discovered_time)
      return values
    },

    hints(values) {
      const errors = checkAll(REPORT_RULES, values)
      const discovered = Date.parse(values['incident.discovered_at'])
      if (!errors['incident.discovered_at'] && discovered > client.clock.now() + 5 * 60 * 1000) {
        errors['incident.discovered_at'] = ['发现时间不能晚于现在']
      }
      if (!this.data.unit && this.data.districts.length && this.data.districtIndex < 0) {
        errors.district_code = ['请选择所在地区']
      }
      return errors
    },

    body(values) {
      const form = this.data.form
      const age = blankToNull(values['victim.age'])
      const suspect = ['name', 'relation', 'description'].some((k) => blankToNull(form.suspect[k]))
      return {
        client_id: this.clientId,
        categories: values.categories,
        urgent: this.data.urgent,
        training: this.training,
        unit_id: this.data.unit ? this.data.unit.id : null,
        district_code: this.data.unit ? null : (this.districtCode || null),
        reporter: { name: blankToNull(form.reporter.name), phone: blankToNull(form.reporter.phone),
          position: blankToNull(form.reporter.position) },
        victim: {
          name: blankToNull(form.victim.name), gender: form.victim.gender, age: age === null ? null : Number(age),
          id_number: blankToNull(form.victim.id_number), address: blankToNull(form.victim.address),
          guardian_name: blankToNull(form.victim.guardian_name), guardian_phone: blankToNull(form.victim.guardian_phone),
          has_disability: !!form.victim.has_disability,
        },
        incident: { discovered_at: values['incident.discovered_at'], occurred_at: null,
          location: blankToNull(form.incident.location), description: blankToNull(form.incident.description) },
        suspect: suspect ? { name: blankToNull(form.suspect.name), relation: blankToNull(form.suspect.relation),
          description: blankToNull(form.suspect.description) } : null,
        police: { notified: !!form.police.notified, station: form.police.notified ? blankToNull(form.police.station) : null,
          notified_at: null },
      }
    },

    async onSubmit() {
      if (this.data.submitting) return // a double tap sends one report
      if (this.data.report) {
        await this.uploadAll()
        return
      }
      const values = this.values()
      const errors = this.hints(values)
      if (Object.keys(errors).length) {
        this.setData({ errors: forTemplate(errors), message: '提交内容有误，请检查标记的项目后再提交。' })
        return
      }
      this.setData({ submitting: true, errors: {}, message: '正在提交，请不要关闭小程序……' })
      try {
        const report = await client.call('createReport', { data: this.body(values) })
        drafts.clear(this.training) // the office has it: nothing personal stays on the phone
        this.setData({ report })
        await this.uploadAll()
      } catch (error) {
        this.failed(error)
      }
    },

    failed(error) {
      let message = error.message
      if ((error.status === 429 || error.status === 503) && error.retryAfter) message = `${message}（请在${error.retryAfter}秒后重试）`
      if (error.retryable) message = `${message} 再次点击「提交报告」不会重复提交。`
      this.setData({ submitting: false, message, errors: forTemplate(error.fields) })
    },

    async uploadAll() {
      this.setData({ submitting: true })
      const list = this.selectComponent('#media')
      const failed = list ? await list.uploadAll(this.data.report.id) : 0
      if (failed) {
        this.setData({ submitting: false,
          message: `报告已提交（查询号 ${this.data.report.tracking_no}），有${failed}个附件未上传成功：请点「重试」，或直接查看回执。` })
        return
      }
      this.toReceipt()
    },

    toMyReports() {
      wx.navigateTo({ url: '/pages/reports/index' })
    },

    onRetried(event) {
      if (event.detail.failed === 0 && this.data.report) this.toReceipt()
    },

    toReceipt() {
      const report = this.data.report
      this.setData({ submitting: false, media: [], form: EMPTY_FORM() })
      wx.redirectTo({ url: `/pages/receipt/index?id=${report.id}&tracking_no=${encodeURIComponent(report.tracking_no)}` +
        `&training=${this.training ? 1 : 0}` })
    },
  },
})

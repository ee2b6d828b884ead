"""What the audit log's codes mean to its readers: each action's zh-CN name, grouped for the page's list, and the
actors' roles.

Every action the code records (``audit.record(..., "ACTION", ...)``) has a name here; tests/admin/test_audit_page.py
reads the source and fails on one that has none. An entry whose action is not listed (written by an older or newer
version) still shows, under its code.
"""

from __future__ import annotations

from app.auth.models import ROLES
from app.reports.states import Action

# The report page's actions (review/service.py records ``report.<action>``), in the order of the state machine.
_REPORT_STEPS: dict[Action, str] = {
    Action.SUBMIT: "提交报告", Action.ACKNOWLEDGE: "签收", Action.ASSIGN: "指派承办人",
    Action.SET_RISK: "设定风险等级", Action.ADD_NOTE: "内部备注", Action.ASK_REPORTER: "要求报告人补充材料",
    Action.ANSWER: "报告人补充材料", Action.TRANSFER: "移送公安", Action.POLICE_ACKNOWLEDGE: "公安签收",
    Action.POLICE_RETURN: "公安退回", Action.RECORD_FEEDBACK: "公安反馈",
    Action.SUPERVISE: "立案监督：要求说明不立案理由",
    Action.POLICE_EXPLAIN: "公安说明理由", Action.CONCLUDE_SUPERVISION: "立案监督结论", Action.REFER: "转介其他部门",
    Action.CLOSE: "办结", Action.REOPEN: "重新办理",
}

GROUPS: tuple[tuple[str, dict[str, str]], ...] = (
    ("登录与会话", {
        "login": "登录",
        "login.failed.password": "登录失败：用户名或密码错误",
        "login.failed.otp": "验证失败：动态验证码或恢复码错误",
        "login.failed.enrol": "绑定两步验证失败：验证码错误",
        "login.failed.password_change": "修改密码失败：原密码错误",
        "login.locked": "账号因多次验证失败被锁定",
        "login.recovery_code": "使用恢复码登录",
        "totp.enrol": "绑定两步验证",
        "step_up": "二次验证（输入动态验证码）",
        "sessions.end_others": "结束本人其他登录会话",
        "logout": "退出登录",
    }),
    ("账号管理", {
        "user.create": "新建账号",
        "user.setup_link": "生成账号设置链接",
        "user.setup_complete": "本人完成账号设置",
        "user.change_password": "修改密码",
        "user.change_role": "更改账号角色",
        "user.set_contacts": "修改通知联系方式",
        "user.reset_totp": "重置两步验证",
        "user.unlock": "解除账号锁定",
        "user.deactivate": "停用账号",
        "user.reactivate": "重新启用账号",
    }),
    ("线索", {
        "report.view": "查看线索",
        "report.reveal_reporter": "查看报告人身份",
        "report.attachment": "查看附件",
        "report.letter": "查看移送函",
        "report.enter_phone": "录入电话报告",
        **{f"report.{action.value}": label for action, label in _REPORT_STEPS.items()},
        "report.register_export": "导出线索台账",
        "report.list_export": "导出线索列表",
        "export.fetch": "下载导出的文件",
        "report.purge_training": "清除过期的练习报告",
        "cases.import": "导入立案案件",
        "cases.finding.confirmed": "确认应报未报",
        "cases.finding.excused": "排除应报未报",
        "cases.name_match.same": "认定同名报告为同一被害人",
        "cases.name_match.different": "认定同名报告不是同一被害人",
        "cases.recommendation.sent": "登记检察建议已发出",
        "cases.recommendation.answered": "登记检察建议已回复",
        "cases.recommendation.names": "在检察建议中查看被害人姓名",
    }),
    ("成员单位与公安机关", {
        "unit.create": "新建成员单位",
        "unit.update": "修改成员单位",
        "unit.deactivate": "停用成员单位",
        "unit.reactivate": "重新启用成员单位",
        "unit.liaison.add": "添加单位联络人",
        "unit.liaison.update": "修改单位联络人",
        "unit.liaison.remove": "移除单位联络人",
        "units.import": "导入成员单位",
        "police_unit.create": "新建公安机关",
        "police_unit.update": "修改公安机关",
        "police_unit.deactivate": "停用公安机关",
        "police_unit.reactivate": "重新启用公安机关",
        "police_units.import": "导入公安机关",
        "district.add": "添加辖区",
        "district.rename": "修改区划名称",
        "institution.add": "登记机构系统对接",
        "institution.rotate": "为机构系统新增密钥",
        "institution.revoke": "注销机构系统密钥",
    }),
    ("通知与值班", {
        "roster.add": "加入值班表",
        "roster.remove": "移出值班表",
        "outbox.retry": "重发失败的通知",
        "outbox.retry_all": "重发全部失败的通知",
    }),
    ("培训", {
        "training.reset": "重置培训数据",
        "training.accounts_sheet": "打印培训账号表",
    }),
    ("系统与审计", {
        "audit.export": "导出审计日志",
        "audit.chain_keyed": "审计链改为密钥保护（升级）",
        "keys.rotate": "轮换加密主密钥",
        "keys.retire": "注销旧加密主密钥",
        "offices.add": "新建检察院",
    }),
)
ACTION_LABELS: dict[str, str] = {code: label for _, actions in GROUPS for code, label in actions.items()}

ROLE_LABELS: dict[str, str] = {**ROLES, "system": "系统", "reporter": "报告人（小程序）",
                               "public": "报告人（网页表单）"}


def action_label(code: str) -> str:
    return ACTION_LABELS.get(code, f"其他操作（{code}）")


def role_label(role: str | None, action: str = "") -> str:
    """An entry's role as read. Without one: a visitor not logged in (a failed login), else the system (a
    command or the demo data's seed)."""
    if role is None:
        return "未登录的访问者" if action.startswith("login.") else "系统"
    return ROLE_LABELS.get(role, role)

"""Every string the staff console shows a clerk (the page, the API's messages, ``admin`` and ``report``).

Residents never see these; what residents read stays in :mod:`bot.messages`. The page gets
``UI`` as a JSON data block and sets every string with ``textContent``.
"""

from __future__ import annotations

TITLE = "汕尾民政问答助手 · 工作人员后台"
SERVING = "工作人员后台已启动: http://{host}:{port}/admin/ （按 Ctrl+C 停止）"
NO_USERS = "提示：还没有工作人员账号，请先运行 `python -m bot admin add-user 用户名` 创建。"

# --- accounts -------------------------------------------------------------------------------------
USERS_FILE_BROKEN = "账号文件 {path} 无法读取（{error}），请检查或删除后重新创建账号。"
BAD_USER_NAME = "用户名只能由 1—32 个字母、数字、汉字或 . _ - 组成。"
BAD_PASSWORD = "密码长度应为 {min}—{max} 个字符。"
PASSWORD_PROMPT = "密码: "
PASSWORD_AGAIN = "再输入一次: "
PASSWORDS_DIFFER = "两次输入的密码不一致，账号未改变。"
USER_ADDED = "已创建账号 {name}。"
USER_UPDATED = "已更新账号 {name} 的密码（该账号已登录的会话全部失效）。"

# --- the API ----------------------------------------------------------------------------------------
LOGIN_REQUIRED = "请先登录。"
LOGIN_FAILED = "用户名或密码不对。"
LOGIN_LIMITED = "登录失败次数过多，请 {minutes} 分钟后再试。"
LOGIN_JSON_ONLY = "登录请求应为 JSON（Content-Type: application/json）。"
CSRF_FAILED = "请求缺少有效的 X-CSRF-Token，已拒绝（请刷新页面后重试）。"
NOT_FOUND = "没有这个页面或文件。"
METHOD_NOT_ALLOWED = "不支持这种请求方式。"
TOO_LARGE = "上传的内容超过 {mb} MB 上限，请分批上传。"
BAD_REQUEST = "请求内容不完整或格式不对：{detail}"
BAD_JSON = "请求格式不对，无法读取。"
NO_FILE = "请选择要上传的文件（表单字段 file）。"
PATH_FOR_ONE_FILE = "同时上传多个文件时，path 只能是一个文件夹（以 / 结尾）。"
INTERNAL = "后台出了点问题，请稍后再试；详情见服务器日志。"
NO_INDEX = "还没有可用的索引：请先在“导入”页导入知识库。"
INGEST_BUSY = "已有导入任务在运行，请等它完成。"
FILE_MISSING = "文件 {path} 不存在。"
TRASH_MISSING = "回收站中没有这一项。"
NO_STANDARDS_DOC = "知识库中没有带 standards 数据块的文件。"

# --- paths --------------------------------------------------------------------------------------------
PATH_EMPTY = "文件名不能为空。"
PATH_TOO_LONG = "文件路径太长（最多 {max} 个字符）。"
PATH_BAD_CHARS = "文件名不能包含反斜杠或控制字符。"
PATH_ABSOLUTE = "只能使用知识库内的相对路径。"
PATH_TRAVERSAL = "文件路径不能包含 .. 或空的部分，也不能指向知识库以外。"
PATH_TOO_DEEP = "文件夹层级太深（最多 {max} 层）。"
PATH_IGNORED = "以 . 或 _ 开头的名称、Office 锁定/临时文件和 .meta.yaml 说明文件不会被导入，不能这样命名。"
PATH_UNSUPPORTED = "不支持的文件类型 {suffix}（支持: {supported}）"
PATH_SYMLINK = "路径中有符号链接，出于安全考虑已拒绝。"

# --- documents ----------------------------------------------------------------------------------------
KEPT_PREVIOUS = "（继续使用上一版内容）"
PENDING_NEW = "新文件，尚未导入"
PENDING_CHANGED = "已修改，尚未重新导入"

# --- ingest jobs --------------------------------------------------------------------------------------
INGEST_START_FAILED = "无法启动导入: {error}"
INGEST_CRASHED = "导入意外中止（退出码 {code}）: {detail}"

# --- what residents asked ----------------------------------------------------------------------------
BAD_SINCE = "日期 {since} 不对，请写成 2025-09-01 这样的格式（不能晚于今天）。"
ASKED_KINDS = {"unanswered": "未能回答", "downvoted": "👎 差评"}
CSV_HEADER = ("类型", "问题", "次数", "最近一次", "回答来源")
REPORT_UNANSWERED = "近 {days} 天未能回答的问题（按次数排序）："
REPORT_LINE = "  {count} 次｜{question}（最近 {last}）"
REPORT_DOWNVOTED = "近 {days} 天被点 👎 的回答："
REPORT_DOWN_LINE = "  {count} 个 👎｜{question}（最近 {last}；回答来自 {source}）"
REPORT_NONE = "  （没有）"
FAQ_EMPTY = "问题和答案都不能为空。"
FAQ_TOO_LONG = "问题最多 {question} 字，答案最多 {answer} 字。"
FAQ_FILE_META = {"title": "工作人员补充的常见问题", "category": "faq", "source": "工作人员后台"}
FAQ_FILE_BODY = "# 工作人员补充的常见问题\n\n居民问到而知识库没有答好的问题，由工作人员在后台补充的回答。\n"

# --- standards ----------------------------------------------------------------------------------------
STANDARDS_NO_BLOCK = "文件头部没有 standards 数据块。"
STANDARDS_REWRITE_FAILED = "无法在原文件中安全地写入新的数值，未保存。请直接编辑该文件。"
STANDARDS_SECTIONS = {
    "dibao": "最低生活保障标准",
    "dibao_edge": "低保边缘家庭认定线",
    "tekun_basic": "特困人员基本生活标准",
    "tekun_care": "特困人员照料护理标准",
    "temporary_assistance": "临时救助",
    "disability": "残疾人两项补贴",
    "meal_subsidy": "助餐补贴（按类别）",
    "meal": "助餐（可选）",
}
STANDARDS_KEYS = {
    "dibao.urban": "城镇",
    "dibao.rural": "农村",
    "dibao_edge.urban": "城镇",
    "dibao_edge.rural": "农村",
    "tekun_basic.urban": "城镇",
    "tekun_basic.rural": "农村",
    "tekun_care.full_self_care": "全自理",
    "tekun_care.semi_disabled": "半失能",
    "tekun_care.fully_disabled": "全失能",
    "temporary_assistance.normal_max_times": "一般情况最高倍数",
    "temporary_assistance.severe_max_times": "特别严重最高倍数",
    "temporary_assistance.advance_max_yuan": "先行救助单次上限",
    "disability.living": "困难残疾人生活补贴",
    "disability.care_level1": "重度残疾人护理补贴（一级）",
    "disability.care_level2": "重度残疾人护理补贴（二级）",
    "meal_subsidy.A": "A 类",
    "meal_subsidy.B": "B 类",
    "meal_subsidy.C": "C 类",
    "meal.price": "标准午餐价格",
    "meal.min_age": "补贴起始年龄",
    "meal.senior_age": "高龄线",
}

# --- "try it" -------------------------------------------------------------------------------------------
WHY_ANSWERED = "已回答：检索置信度 {confidence} ≥ 阈值 {threshold}，答案摘自 {titles}。"
WHY_LOW_CONFIDENCE = "拒答：检索置信度 {confidence} 低于阈值 {threshold}，知识库里可能没有这方面的内容。"
WHY_NO_SENTENCE = "拒答：置信度 {confidence}，但找到的段落里没有能回答这个问题的句子。"
WHY_NOTHING_FOUND = "拒答：知识库中没有找到相关段落。"
WHY_OTHER = "其他情况（{kind}）。"
WHY_FIXED = {
    "calculator": "由标准计算器按 standards 数据直接计算。",
    "meal_sites": "由长者饭堂名录直接查找。",
    "other_department": "转介：这是其他部门的业务。",
    "empty": "空消息，给出使用提示。",
    "no_text": "消息里没有文字。",
    "injection": "安全检查：疑似要求改变规则（提示注入），按固定答复处理。",
    "privacy": "安全检查：涉及个人隐私，按固定答复处理。",
    "illegal": "安全检查：违法请求，按固定答复处理。",
    "abuse": "安全检查：情绪化用语，按固定答复处理。",
    "store_down": "知识库暂时无法访问。",
}

# --- the page ---------------------------------------------------------------------------------------------
# Shown by console.js (keys are lower-case in the page's data block).
UI = {
    "title": TITLE,
    "login_title": "工作人员登录",
    "username": "用户名",
    "password": "密码",
    "login": "登录",
    "logout": "退出登录",
    "logged_in_as": "当前用户：{user}",
    "tab_documents": "文件",
    "tab_ingest": "导入",
    "tab_try": "试一试",
    "tab_asked": "居民提问",
    "tab_standards": "标准",
    "tab_audit": "操作记录",
    "drop_here": "把文件拖到这里上传（可一次多个），或点击选择文件",
    "choose_files": "选择文件",
    "upload_folder": "上传到文件夹（可留空）",
    "uploading": "正在上传…",
    "uploaded": "已上传 {count} 个文件。要让居民看到，请到“导入”页导入。",
    "replaced": "（已替换旧版本，旧版本在回收站）",
    "col_path": "文件",
    "col_title": "标题",
    "col_category": "分类",
    "col_issued": "发布日期",
    "col_sample": "示例数据",
    "col_chunks": "片段",
    "col_modified": "最后修改",
    "col_status": "状态",
    "col_actions": "操作",
    "status_served": "已上线",
    "status_skipped": "已跳过",
    "status_pending": "待导入",
    "ocr_badge": "扫描件",
    "edit": "编辑信息",
    "replace": "替换",
    "delete": "删除",
    "confirm_delete": "确定删除 {path} 吗？删除的文件会放进回收站，可以恢复。",
    "deleted": "已删除 {path}（可在回收站恢复）。",
    "save": "保存",
    "cancel": "取消",
    "saved": "已保存。要让居民看到，请到“导入”页导入。",
    "edit_title": "编辑 {path} 的信息",
    "edit_where_sidecar": "保存在说明文件 {path}.meta.yaml 中（不改动原文件）",
    "edit_where_front": "保存在文件头部的 YAML 信息中",
    "field_title": "标题",
    "field_category": "分类",
    "field_issued": "发布日期（如 2025-09-20）",
    "field_source": "来源",
    "trash": "回收站",
    "trash_empty": "回收站是空的。",
    "restore": "恢复",
    "restored": "已恢复 {path}。",
    "trash_replace": "被替换",
    "trash_delete": "被删除",
    "ingest_start": "开始导入",
    "ingest_running": "正在导入…",
    "ingest_read": "读取文件 {done}/{total}：{path}",
    "ingest_embed": "计算向量 {done}/{total}",
    "ingest_done": "导入完成",
    "ingest_failed": "导入失败：{message}",
    "report_added": "新增",
    "report_updated": "更新",
    "report_removed": "删除",
    "report_unchanged": "未变",
    "report_skipped": "跳过",
    "report_warnings": "注意",
    "report_directory": "长者饭堂名录",
    "try_label": "输入一个居民可能问的问题",
    "try_ask": "试一试",
    "try_answer": "居民会看到的回答",
    "try_why": "原因",
    "try_passages": "检索到的段落（按融合得分排序）",
    "try_documents": "文件排名",
    "col_rank": "名次",
    "col_score": "得分",
    "col_dense": "向量相似度",
    "col_sparse": "关键词得分",
    "col_heading": "章节",
    "col_cited": "引用",
    "asked_since": "起始日期",
    "asked_filter": "筛选",
    "asked_csv": "导出 CSV",
    "asked_none": "这段时间没有未能回答的问题或差评。",
    "col_kind": "类型",
    "asked_unanswered": "未能回答",
    "asked_downvoted": "👎 差评",
    "kept_previous": KEPT_PREVIOUS,
    "col_question": "问题",
    "col_count": "次数",
    "col_last": "最近一次",
    "col_source": "回答来源",
    "add_faq": "补充问答",
    "faq_title": "补充一条常见问题（写入 {file} 并重新导入）",
    "faq_question": "问题",
    "faq_answer": "答案",
    "faq_saved": "已写入 {path}，正在重新导入…",
    "standards_doc": "标准文件：{path}",
    "standards_save": "保存标准",
    "standards_saved": "已保存。",
    "standards_warnings": "文件中的表格与新数值不一致：",
    "standards_stale": "这些文件仍写着旧的数字，请核对：",
    "standards_none": "知识库中没有带 standards 数据块的文件。",
    "audit_none": "还没有操作记录。",
    "col_at": "时间",
    "col_user": "用户",
    "col_action": "操作",
    "col_target": "对象",
    "col_detail": "说明",
    "network_error": "网络连接出了问题，请重试。",
    "session_expired": "登录已过期，请重新登录。",
}
ACTIONS = {
    "login": "登录",
    "login_failed": "登录失败",
    "logout": "退出",
    "upload": "上传",
    "replace": "替换",
    "delete": "删除",
    "restore": "恢复",
    "edit": "编辑信息",
    "ingest": "导入",
    "faq": "补充问答",
    "standards": "修改标准",
    "add_user": "创建账号",
    "set_password": "修改密码",
}

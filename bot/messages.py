"""Every string a resident or a staff member reads, in one place.

Channels format these (Telegram HTML, web JSON, console text); they never write their own.
Strings with ``{placeholders}`` are filled with :meth:`str.format`.
"""

from __future__ import annotations

# --- answers ---------------------------------------------------------------------------------

SOURCES_HEADING = "来源"
SOURCE_LINE = "《{title}》（{issued}）"
SAMPLE_NOTICE = (
    "注：来源中标注为示例的本地数据（金额、地址、电话、时间）仅作示意，以汕尾市民政局最新公布为准。"
)
ANSWER_FOOTER = "以上为政策摘要，办理前请以窗口或 {hotline} 热线答复为准。"

DONT_KNOW = (
    "抱歉，这个问题我在民政知识库里没有找到可靠的答案，不想随便猜测误导您。\n"
    "建议您：\n"
    "· 拨打 {hotline} 政务服务便民热线（24小时，会转到对应部门）；\n"
    "· 或致电汕尾市民政局业务咨询电话 {bureau_phone}（{office_hours}）。"
)
OTHER_DEPARTMENT = (
    "这个问题不属于民政业务范围。{hint}如不确定该找哪个部门，可拨打 {hotline} 政务服务便民热线。"
)

EMPTY_QUESTION = "您好！请直接输入想咨询的民政问题，例如：“结婚登记要带什么材料？”“低保怎么申请？”"
NOT_A_QUESTION = "我没看懂这条消息 🙂 请用文字描述您想咨询的民政问题，例如：“长者饭堂怎么吃饭有补贴？”"
TOO_LONG = "您的消息较长，我先按前面的内容作答。如果没有答到点子上，请用一两句话说明最想问的问题。"
INJECTION = (
    "我是汕尾市民政问答助手，只能根据民政局公开的办事指南回答民政业务问题，"
    "不能更改这些规则，也不能透露内部设置。请问有什么民政方面的问题可以帮您？"
)
PRIVACY = (
    "为保护个人隐私，我不能查询或透露任何人的个人信息、是否享受救助等情况。"
    "如需反映情况，请向户籍所在镇（街道）或拨打 {hotline} 热线。"
)
ABUSE = (
    "我理解您可能很着急。请告诉我具体想办理的事项，我会尽力帮您查找；也可以拨打 {hotline} 热线找人工服务。"
)
ILLEGAL = "这个请求我不能协助。伪造证件、骗取救助属于违法行为。如有正当需要，请到婚姻登记机关或拨打 {hotline} 咨询。"
ERROR_APOLOGY = "抱歉，系统暂时出了点问题，请稍后再试；急事请拨打 {hotline} 热线。"
STORE_DOWN = "抱歉，知识库暂时无法访问，请稍后再试；急事请拨打 {hotline} 热线或 {bureau_phone}。"

# --- console ---------------------------------------------------------------------------------

CONSOLE_WELCOME = (
    "汕尾民政问答助手（控制台模式）。可以问老年助餐、婚姻登记、低保/特困/临时救助等问题。\n"
    "输入 /quit 退出，/new 开始新话题。"
)
CONSOLE_PROMPT = "您的问题> "
CONSOLE_BYE = "再见！"

# --- ingest (staff-facing) ------------------------------------------------------------------

SKIP_EMPTY = "文件是空的"
SKIP_UNSUPPORTED = "不支持的文件类型 {suffix}（支持: {supported}）"
SKIP_UNDECODABLE = "无法识别文字编码（已尝试 UTF-8、UTF-16、GB18030）"
SKIP_CORRUPT_PDF = "PDF 文件损坏或无法解析"
SKIP_NO_TEXT_PDF = "PDF 没有文字层（可能是扫描件），请提供可复制文字的版本"
SKIP_CORRUPT_DOCX = "DOCX 文件损坏或无法解析"
SKIP_CORRUPT_XLSX = "XLSX 文件损坏或无法解析"
SKIP_BAD_FRONT_MATTER = "文件头部的 YAML 信息格式错误: {detail}"
SKIP_NO_CHUNKS = "没有可用的正文内容"
SKIP_UNREADABLE = "无法读取文件: {detail}"

INGEST_BUSY = "另一个导入任务正在运行（{lock}），请等它完成后再试。"
INGEST_NO_KNOWLEDGE = "知识库目录不存在: {path}"
INGEST_NOTHING = "知识库目录 {path} 中没有可导入的文件，未更新索引。"
INGEST_SUMMARY = (
    "导入完成: 新增 {added}，更新 {updated}，删除 {removed}，未变 {unchanged}，跳过 {skipped} 个文件；"
    "共 {chunks} 个片段，本次新计算向量 {embedded} 个，用时 {seconds:.1f} 秒。"
)
INGEST_DRY_RUN = "（试运行，未写入索引）"
INGEST_SKIPPED_LINE = "  跳过 {path}: {reason}"
NO_INDEX = "还没有索引: 请先运行 `python ingest.py --knowledge {knowledge} --data {data}`。"

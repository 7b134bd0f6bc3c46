"""What the bureau's staff read from the bot, in one place: the ingest report (what was read,
skipped and why, what to check), and the one-line errors about the data folder.

Residents never see these; every string a resident reads is in :mod:`bot.messages`.
"""

# --- the data folder (staff-facing, one 错误: line each) ---------------------------------------------

DATA_DISK_FULL = (
    "数据目录 {path} 所在的磁盘已满，无法写入。请清理磁盘空间（或用 --data 换到空间充足的目录）后重试；"
    "不要删除该目录，已建好的索引还在里面。"
)
DATA_READ_ONLY = "数据目录 {path} 无法写入（只读）。请检查权限或挂载方式，或用 --data 换一个可写的目录。"
DATA_DAMAGED = (
    "数据目录 {path} 中的数据库已损坏。请运行 `python ingest.py --rebuild` 重建索引；"
    "仍不行时，删除 {path}/index.sqlite 后再运行一次。"
)
CACHE_DAMAGED = (
    "向量缓存（{path} 中的 embedding_cache）有损坏的记录。请运行 `python ingest.py --rebuild`，"
    "它会清空缓存并重新计算全部向量。"
)
SALT_LINK = "{path} 是一个链接。盐文件必须是数据目录里的普通文件：请删除该链接，把它指向的文件复制到这里（或删除后自动生成新的盐，旧的统计将无法与新记录对应）。"
SALT_DAMAGED = "{path} 已损坏（应为 64 位十六进制字符）。请从备份恢复它，或删除它以生成新的盐（旧的统计将无法与新记录对应）。"
SALT_UNREADABLE = "无法读取 {path}（{error}）。请检查该文件的权限。"
SALT_UNWRITABLE = "无法在数据目录创建 {path}（{error}）。请检查权限和磁盘空间，或用 --data 换一个可写的目录。"

# --- ingest (staff-facing) ------------------------------------------------------------------

SKIP_EMPTY = "文件是空的"
SKIP_UNSUPPORTED = "不支持的文件类型 {suffix}（支持: {supported}）"
SKIP_UNDECODABLE = "无法识别文字编码（已尝试 UTF-8、UTF-16、GB18030）"
SKIP_CORRUPT_PDF = "PDF 文件损坏或无法解析"
SKIP_NO_TEXT_PDF = "PDF 没有文字层（可能是扫描件），请提供可复制文字的版本"
SKIP_CORRUPT_DOCX = "DOCX 文件损坏或无法解析"
SKIP_CORRUPT_XLSX = "XLSX 文件损坏或无法解析"
SKIP_BAD_FRONT_MATTER = "文件头部的 YAML 信息格式错误: {detail}"
SKIP_BAD_STANDARDS = "standards 数据有误，计算器不会使用这一版: {detail}"
SKIP_NO_CHUNKS = "没有可用的正文内容"
SKIP_UNREADABLE = "无法读取文件: {detail}"
SKIP_BAD_SIDECAR = "说明文件 {name} 有误: {detail}"
SKIP_CORRUPT_IMAGE = "图片文件损坏或无法解析"
SKIP_IMAGE_TOO_LARGE = "图片太大（{width}×{height} 像素），请缩小后再上传"
SKIP_OCR_NOTHING = "扫描件中没有识别出文字（可能太模糊），请提供清晰的扫描件或可复制文字的版本"
SKIP_OCR_TOO_MANY_PAGES = "扫描件有 {pages} 页，超过文字识别的上限 {limit} 页，请拆分后再上传"
SKIP_OCR_DISABLED = "图片需要文字识别，但配置中 [ocr] enabled = false"
SKIP_NOT_REGULAR = "不是普通文件（文件夹、设备或管道）"  # a detail of SKIP_UNREADABLE
# Files that are not really in the knowledge folder: never read, so no secret can reach an answer.
SKIP_OUTSIDE = "这是指向知识库文件夹之外的链接（{target}），为防止泄露系统或数据文件，未读取。请把文件本身复制到知识库文件夹中"
SKIP_FORBIDDEN = "位于系统或数据目录 {target} 中，这类文件永远不会导入。请把要导入的文件复制到知识库文件夹中"
SKIP_LINKED_FOLDER = "这是指向文件夹的链接，未读取。请把其中的文件直接放进知识库文件夹"
SKIP_HARD_LINK = (
    "这是一个硬链接（同一文件在别处还有名字），为防止误导入系统或数据文件，未读取。请放一份普通副本"
)
SKIP_OTHER_FILESYSTEM = (
    "位于挂载到知识库文件夹中的另一个文件系统上（{mount}），未读取。请把文件复制到知识库文件夹中"
)
# Limits ([ingest_limits] in config.toml): the file is skipped and the rest of the folder is ingested.
SKIP_TOO_BIG = (
    "文件有 {size}，超过上限 {limit}（config.toml 中 [ingest_limits] max_file_bytes）。请拆分成几个较小的文件"
)
SKIP_UNZIPPED_TOO_BIG = (
    "文件解压后有 {size}，超过上限 {limit}（[ingest_limits] max_unzipped_bytes），未解压。"
    "请删去其中的大图片或拆分文件"
)
SKIP_UNZIPPED_XML_TOO_BIG = (
    "文件中的文字和格式数据（XML）解压后有 {size}，超过上限 {limit}（[ingest_limits] max_unzipped_xml_bytes），"
    "未解压。请拆分文件"
)
SKIP_TOO_MANY_PAGES = (
    "PDF 有 {pages} 页以上，超过上限 {limit} 页（[ingest_limits] max_pdf_pages）。请拆分成几个文件"
)
SKIP_TOO_MANY_TAGS = (
    "网页约有 {tags} 个标签，超过上限 {limit}（[ingest_limits] max_html_tags）。请只保留正文部分"
)
SKIP_LONG_LINE = (
    "第 {line} 行有 {chars} 个字符，超过上限 {limit}（[ingest_limits] max_line_chars），"
    "可能不是正常的文档。请检查文件或分段"
)
SKIP_TOO_MANY_CHUNKS = "内容太多，会切成 {chunks} 个以上的片段，超过上限 {limit}（[ingest_limits] max_chunks_per_file）。请拆分成几个文件"
SKIP_TEXT_TOO_LONG = "文字内容超过 {chars} 个字符，会切成太多片段（[ingest_limits] max_chunks_per_file），已停止读取。请拆分成几个文件"
SKIP_FRONT_MATTER_TOO_BIG = "文件头部的 YAML 信息超过 {limit} 字节（[ingest_limits] max_front_matter_bytes）"
SKIP_FRONT_MATTER_ALIAS = "文件头部的 YAML 信息使用了锚点/别名（&名称、*名称），这里不支持，请直接写出内容"
SKIP_FRONT_MATTER_DEPTH = "文件头部的 YAML 信息嵌套超过 {limit} 层（[ingest_limits] max_front_matter_depth）"

INGEST_BUSY = "另一个导入任务正在运行（{lock}），请等它完成后再试。"
INGEST_NO_KNOWLEDGE = "知识库目录不存在: {path}"
INGEST_NOTHING = "知识库目录 {path} 中没有可导入的文件，未更新索引。"
INGEST_SUMMARY = (
    "导入完成: 新增 {added}，更新 {updated}，删除 {removed}，未变 {unchanged}，跳过 {skipped} 个文件；"
    "共 {chunks} 个片段、{units} 个回答单元，本次新计算向量 {embedded} 个，用时 {seconds:.1f} 秒。"
)
INGEST_DRY_RUN_SUMMARY = (
    "试运行（未写入索引）: 将新增 {added}，更新 {updated}，删除 {removed}，未变 {unchanged}，跳过 {skipped} 个文件；"
    "共 {chunks} 个片段。"
)
INGEST_ADDED_LINE = "  新增 {path}"
INGEST_UPDATED_LINE = "  更新 {path}"
INGEST_REMOVED_LINE = "  删除 {path}"
INGEST_UNCHANGED_LINE = "  未变 {count} 个: {paths}"
INGEST_OCR = "（扫描件，已识别文字）"
INGEST_DIRECTORY_LINE = "  长者饭堂名录: {path}（{sites} 个点位）"
INGEST_DIRECTORY_COLUMNS = "长者饭堂名录缺少这些列: {columns}（列名应与 Markdown 名录相同）"
INGEST_DIRECTORY_SEVERAL = "有多个长者饭堂名录文件（{names}），都会使用；同名点位只取一次"
INGEST_SKIPPED_LINE = "  跳过 {path}: {reason}"
INGEST_KEPT_PREVIOUS = "（继续使用上一版内容）"
INGEST_WARNING_LINE = "  注意 {path}: {warning}"
INGEST_STALE_FIGURE = "“{text}”{detail}（这句话在更新前不会用于回答）"
OLD_INDEX = "索引是旧版本的格式: 请重新运行 `python ingest.py --knowledge {knowledge} --data {data}`（已缓存的向量不会重新计算）。"
NO_INDEX = "还没有索引: 请先运行 `python ingest.py --knowledge {knowledge} --data {data}`。"

# --- the shared state database (python -m bot stats | state migrate) -------------------------------

STATS_TEXT = (
    "统计（{store}，自 {since}）\n"
    "提问 {total} 次，已回答 {answered} 次（{share}）\n"
    "👍 {up}  👎 {down}  转人工 {handoffs}\n"
    "按渠道: {channels}"
)
STATS_ALL_TIME = "开始以来"
STATS_BAD_SINCE = "--since 应为日期 YYYY-MM-DD，例如 2026-01-31（收到: {since}）"
MIGRATE_NO_SOURCE = "没有找到要迁移的状态文件 {path}。请用 --data 指向原来的数据目录。"
MIGRATE_SAME = "--to 应为另一个数据库的地址，例如 postgresql+psycopg://bot@127.0.0.1:5432/shanwei。"
MIGRATE_NOT_EMPTY = "目标数据库 {url} 的 {table} 表已有记录：为免重复或混杂，只迁移到没有记录的数据库。"
MIGRATE_OTHER_SALT = (
    "目标数据库 {url} 已有另一个用户盐：迁移后旧记录将无法与同一居民对应。请换一个新的数据库。"
)
MIGRATE_DONE = "已迁移到 {url}：{rows}。设置 DATABASE_URL 为该地址后重启各进程。"
DATABASE_UNREACHABLE = (
    "无法连接状态数据库 {url}（{error}）。请检查 DATABASE_URL、数据库是否在运行、网络和账号。"
)
INGEST_BUSY_SHARED = (
    "另一个导入正在使用同一个数据库 {url}（可能在另一台机器上）。请等它结束后再运行；正在服务的索引不受影响。"
)

"""Chinese-aware chunking of Markdown-normalised documents.

A document is read as a sequence of blocks (heading, paragraph, list item, table,
FAQ pair). Blocks are grouped by their heading path and packed into chunks of at
most ``max_chars`` characters; a table is cut between rows and every piece keeps
its header; a long paragraph is cut after 。！？； (LangChain's recursive splitter);
an FAQ pair (问/答) is always a chunk of its own. Every chunk carries its heading
path (document title › section › subsection) and no chunk is only a heading.

Regulations are cut by article (RAGFlow's "laws" template is the model): a paragraph opening with
"第X条" starts an article, and the paragraphs after it (its 款 and numbered items （一）…) belong to it
until the next article or heading. An article is a chunk of its own, never packed with another, and
a long one is cut only between a lead-in and the next, never between a sentence ending in "：" and
the items it introduces; every piece knows its article number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from bot.config import ChunkingSettings
from bot.records import TABLE_ROW, TABLE_SEPARATOR, Chunk, FileMeta, body_of, chunk_text, join_heading

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FAQ_QUESTION = re.compile(r"^\s*(?:\*\*)?\s*(?:问|Q)\s*[:：]\s*(?:\*\*)?\s*(.+)$")


ARTICLE = re.compile(r"^\s*(第[一二三四五六七八九十百千零〇两]+条)(?:之[一二三四五六七八九十]+)?[\s　]*")
# A list item's mark. A Markdown bullet needs its space, a number its stop ("1.5倍…" is no item).
LIST_MARK = re.compile(r"^\s*(?:[-*+]\s|[•·]|\d{1,3}(?:\.(?!\d)|[、)）])|[（(]\d{1,3}[)）])\s*")
# A term in bold and its definition ("**孤儿**：失去父母…"): an entry of a definition list, read as an item.
DEFINITION_ENTRY = re.compile(r"^\s*\*\*[^*\n]{1,30}\*\*\s*[：:]")
ITEM = re.compile(r"^\s*[（(](?:[一二三四五六七八九十]+|\d{1,2})[)）]")


def is_list_line(line: str) -> bool:
    """The line is an item of a list: it opens with a list mark, or is a term defined in bold."""
    return bool(LIST_MARK.match(line) or DEFINITION_ENTRY.match(line))


@dataclass
class Block:
    kind: str  # "paragraph" | "list" | "table" | "faq" | "article"
    lines: list[str]
    heading: tuple[str, ...]
    question: str = ""  # for "faq": the question text
    article: str = ""  # for "article": its number ("第八条")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class _Pending:
    heading: tuple[str, ...]
    blocks: list[Block] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(b.text) + 1 for b in self.blocks)


def parse_blocks(markdown: str, title: str) -> list[Block]:
    """Split Markdown into blocks, each tagged with the heading path above it."""
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    current: Block | None = None

    def path() -> tuple[str, ...]:
        names = [name for _, name in stack]
        if names and names[0] == title:
            names = names[1:]
        return (title, *names)

    def close() -> None:
        nonlocal current
        if current is not None and current.text.strip():
            blocks.append(current)
        current = None

    for raw in markdown.splitlines():
        line = raw.rstrip()
        heading = _HEADING.match(line)
        if heading:
            close()
            level, name = len(heading.group(1)), _strip_markup(heading.group(2))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, name))
            continue
        if not line.strip():
            close()
            continue
        if TABLE_ROW.match(line):
            if current is None or current.kind != "table":
                close()
                current = Block("table", [], path())
            current.lines.append(line.strip())
            continue
        faq = _FAQ_QUESTION.match(line)
        if faq:
            close()
            current = Block("faq", [line.strip()], path(), question=_strip_markup(faq.group(1)))
            continue
        if current is not None and current.kind == "faq":
            current.lines.append(line.strip())
            continue
        if is_list_line(line) and not TABLE_ROW.match(line):
            close()
            current = Block("list", [line.strip()], path())
            continue
        if current is None or current.kind == "table":
            close()
            current = Block("paragraph", [], path())
        current.lines.append(line.strip())
    close()
    return _group_articles(_merge_lists(blocks))


def _group_articles(blocks: list[Block]) -> list[Block]:
    """Join each article's paragraphs (its 款 and items) into one ``article`` block."""
    out: list[Block] = []
    current: Block | None = None
    for block in blocks:
        opens = ARTICLE.match(block.lines[0]) if block.kind == "paragraph" else None
        if opens:
            current = Block("article", list(block.lines), block.heading, article=opens.group(1))
            out.append(current)
        elif current is not None and block.heading == current.heading and block.kind != "faq":
            current.lines.extend(block.lines)
        else:
            current = None
            out.append(block)
    return out


def _merge_lists(blocks: list[Block]) -> list[Block]:
    """Join consecutive list items of one section into one list block (a list stays together)."""
    out: list[Block] = []
    for block in blocks:
        prev = out[-1] if out else None
        if (
            block.kind == "list"
            and prev is not None
            and prev.kind == "list"
            and prev.heading == block.heading
        ):
            prev.lines.extend(block.lines)
        else:
            out.append(Block(block.kind, list(block.lines), block.heading, block.question))
    return out


def _strip_markup(text: str) -> str:
    return re.sub(r"[*_`]+", "", text).strip()


def chunk_document(doc: Document, settings: ChunkingSettings) -> list[Document]:
    """Cut one loaded document into retrieval chunks with heading paths."""
    file = FileMeta.from_meta(doc.metadata)
    title = file.title or file.path
    chunks: list[Document] = []
    for heading, kind, text, question, article in _pack(parse_blocks(doc.page_content, title), settings):
        heading_path = join_heading(heading)
        chunk = Chunk(
            path=file.path,
            title=title,
            category=file.category,
            issued=file.issued,
            sample=file.sample,
            heading=heading_path,
            kind=kind,
            chunk=len(chunks),
            question=question,
            article=article,
            ocr=file.ocr,
        )
        chunks.append(Document(page_content=chunk_text(heading_path, text), metadata=chunk.as_meta()))
    return chunks


def chunk_body(chunk: Document) -> str:
    """The chunk's text without its heading-path line."""
    return body_of(chunk.page_content)


_Packed = tuple[tuple[str, ...], str, str, str, str]  # heading path, kind, text, FAQ question, article


def _pack(blocks: list[Block], settings: ChunkingSettings) -> Iterator[_Packed]:
    """Yield (heading path, kind, text, FAQ question, article) chunks."""
    pending: _Pending | None = None

    def flush() -> Iterator[_Packed]:
        nonlocal pending
        if pending is not None and pending.blocks:
            kinds = {b.kind for b in pending.blocks}
            kind = kinds.pop() if len(kinds) == 1 else "text"
            yield pending.heading, kind, "\n".join(b.text for b in pending.blocks), "", ""
        pending = None

    for block in blocks:
        if block.kind == "faq":
            yield from flush()
            yield block.heading, "faq", block.text, block.question, ""
            continue
        if block.kind == "article":
            yield from flush()
            for part in _split_article(block, settings.max_chars):
                yield block.heading, "article", part, "", block.article
            continue
        for piece in _split_block(block, settings.max_chars):
            same_section = pending is not None and pending.heading == piece.heading
            if not same_section or pending is None or pending.size + len(piece.text) > settings.max_chars:
                lead_in = _lead_in_of(pending, piece) if same_section else None
                yield from flush()
                pending = _Pending(piece.heading, [lead_in] if lead_in else [])
            pending.blocks.append(piece)
    yield from flush()


def _lead_in_of(pending: _Pending | None, piece: Block) -> Block | None:
    """The last paragraph of the chunk being closed when it introduces ``piece`` ("几个关键词的含义："
    before the list): taken out of that chunk to open the next one, so a list keeps its lead-in."""
    if pending is None or len(pending.blocks) < 2 or piece.kind not in ("list", "table"):
        return None
    last = pending.blocks[-1]
    if last.kind != "paragraph" or not _strip_markup(last.text).endswith(("：", ":")):
        return None
    return pending.blocks.pop()


def _split_block(block: Block, max_chars: int) -> list[Block]:
    if len(block.text) <= max_chars:
        return [block]
    if block.kind == "table":
        return _split_table(block, max_chars)
    if block.kind == "list":
        return _split_lines(block, max_chars)
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=max_chars,
        chunk_overlap=0,
        separators=["\n", "。", "！", "？", "；", "，", ""],
        keep_separator="end",
    )
    return [
        Block(block.kind, [t.strip()], block.heading) for t in splitter.split_text(block.text) if t.strip()
    ]


def _split_article(block: Block, max_chars: int) -> list[str]:
    """An article's text in pieces of at most ``max_chars`` where it can be cut: never between a
    lead-in ("…下列证件和书面材料：") and its items. A lead-in with its items longer than that stays
    whole; a single paragraph longer than three times that is cut after 。！？；."""
    atoms: list[list[str]] = []
    for line in block.lines:
        follows_lead_in = atoms and (
            ITEM.match(line) and atoms[-1][-1].rstrip().endswith(("：", ":", "；", ";"))
        )
        if atoms and (follows_lead_in or (ITEM.match(line) and ITEM.match(atoms[-1][-1]))):
            atoms[-1].append(line)
        else:
            atoms.append([line])
    pieces: list[str] = []
    for atom in atoms:
        text = "\n".join(atom)
        if len(text) > 3 * max_chars:
            parts = [b.text for b in _split_block(Block("paragraph", [text], block.heading), max_chars)]
        else:
            parts = [text]
        for part in parts:
            if pieces and len(pieces[-1]) + len(part) + 1 <= max_chars:
                pieces[-1] += "\n" + part
            else:
                pieces.append(part)
    return pieces


def _split_lines(block: Block, max_chars: int) -> list[Block]:
    out: list[Block] = []
    for line in block.lines:
        if out and len(out[-1].text) + len(line) + 1 <= max_chars:
            out[-1].lines.append(line)
        else:
            out.append(Block(block.kind, [line], block.heading))
    return out


def _split_table(block: Block, max_chars: int) -> list[Block]:
    """Cut a table between rows; every piece repeats the header and separator rows."""
    lines = block.lines
    if len(lines) >= 2 and TABLE_SEPARATOR.match(lines[1]):
        header, rows = lines[:2], lines[2:]
    else:
        header, rows = lines[:1], lines[1:]
    out: list[Block] = []
    for row in rows:
        if out and len(out[-1].text) + len(row) + 1 <= max_chars:
            out[-1].lines.append(row)
        else:
            out.append(Block("table", [*header, row], block.heading))
    return out or [block]

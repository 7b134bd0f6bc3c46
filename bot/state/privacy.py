"""Privacy of what channels store: salted hashes instead of ids, personal details redacted.

No Telegram user id, chat id, name or phone number is ever stored. Ids are replaced by a salted
SHA-256; the salt is random, created once in ``<data>/salt`` (mode 0600, never through a link).

:func:`redact` runs on every question before it is stored (the history, the questions log that
staff read in ``/unanswered``). It replaces:

* phone, id, bank-card and other numbers of 7+ digits in any notation: punctuated (``138.0013.8000``,
  ``(0660) 330-0000``), full-width (``１３８…``), in Chinese numerals (``一三八零零…``, ``幺``, ``壹贰叁``)
  or mixed, and masked id numbers (``441502********123X``); dates and short numbers (12345, 1030元) stay;
* e-mail addresses; WeChat and QQ ids after 微信/vx/QQ…, and ``wxid_…`` anywhere;
* the house, building and room numbers of a street address (``香城路［门牌已隐去］``): the road or
  village stays, so staff still see which area a question is about;
* personal names, as jieba's part-of-speech tagger (``nr``) finds them — only when the word starts
  with a common surname, is no place of 汕尾 (jieba tags 红草镇, 马宫 as names too) and no common
  word (谢谢, 黄金周, 谢谢你们). Measured: 15 of 20 names in sample questions found; 1 of 135 evaluation
  questions changed (隔篱屋陈伯 — a neighbour, rightly).

Everything is matched on a *probe* of the text, one character for one (full-width forms and Chinese
digits folded to ASCII digits), so positions in the probe are positions in the text.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
from pathlib import Path

from bot import messages, staff_messages
from bot.errors import UserError

logger = logging.getLogger(__name__)

SALT_FILE = "salt"
REDACTED = messages.REDACTED_NUMBER

# --- the probe: one character for one -------------------------------------------------------------

_FOLD: dict[int, str] = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}  # full-width ASCII forms
_FOLD.update(
    {ord("\u3000"): " ", ord("－"): "-", ord("—"): "-", ord("–"): "-", ord("（"): "(", ord("）"): ")"}
)
for _digit, _chars in enumerate(
    ("零〇○", "一幺壹", "二两贰", "三叁", "四肆", "五伍", "六陆", "七柒", "八捌", "九玖")
):
    _FOLD.update({ord(ch): str(_digit) for ch in _chars})


def _probe(text: str) -> str:
    return text.translate(_FOLD)


# --- the patterns ---------------------------------------------------------------------------------------

# 7+ digits, at most two separators (space . - · _ / parentheses) between any two of them.
_NUMBER = re.compile(r"(?<![\dA-Za-z])\+?\d(?:[ .\-·_/()]{0,2}\d){6,}(?:[ ]?[xX])?(?![\dA-Za-z])")
_DATE = re.compile(r"\d{4}\s*[-./]\s*\d{1,2}\s*[-./]\s*\d{1,2}")
_MASKED = re.compile(r"(?<![\dA-Za-z])\d{2,6}[*xX×]{4,}[\dxX]{0,4}(?![\dA-Za-z])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_WXID = re.compile(r"(?<![A-Za-z0-9])wxid_[A-Za-z0-9_\-]{3,}", re.I)
_ACCOUNT = re.compile(
    r"(?:(?<![A-Za-z])(?:vx|wx|weixin|wechat|qq|v信)|微信|威信|薇信)\s*(?:号码|号|id)?\s*(?:是|为|:)?\s*"
    r"([A-Za-z][A-Za-z0-9_\-]{4,19}|\d{5,12})(?![A-Za-z0-9_\-])",
    re.I,
)
_NUM = r"[\d十百]+"
_UNIT = r"(?:号楼|号院|号|栋|幢|座|单元|楼|层|室|房|铺|组)"
_ADDRESS = re.compile(
    r"(大道|[路街巷弄村组苑园厦寓区])((?:[东南西北中]段?)?"
    rf"(?:\s*第?{_NUM}\s*{_UNIT}(?:\s*[之\-]\s*{_NUM})?)+"
    r"(?:(?<=[栋幢座元楼])\s*\d{2,4}(?![\d元块口人岁年月日天]))?)"
)

# The most common surnames (about nine in ten people in Guangdong), and two-character ones.
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "庄卓温骆柯翁詹欧赖巫蓝颜洪池甘伍傅"
)
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "司徒", "东方", "慕容")
_PLACE_SUFFIX = frozenset("镇乡村区县市街路港湾岛山湖河江桥站")
_NOT_IN_NAMES = frozenset("你我他她它们的了吗呢吧啊")  # jieba's dictionary has 谢谢你们/nr
_COMMON_WORD_FREQ = 100  # jieba tags 谢谢 (1089) and 黄金周 (1407) nr too; names in its dictionary are rarer


def redact(text: str) -> str:
    """``text`` with numbers, e-mail addresses, account ids, house numbers and names replaced."""
    text = _sub(_EMAIL, text, lambda m: messages.REDACTED_EMAIL)
    text = _sub(_WXID, text, lambda m: messages.REDACTED_ACCOUNT)
    text = _sub(_ACCOUNT, text, _account)
    text = _sub(_MASKED, text, lambda m: messages.REDACTED_NUMBER)
    text = _sub(_NUMBER, text, _number)
    text = _sub(_ADDRESS, text, lambda m: m.group(1) + messages.REDACTED_ADDRESS)
    return _names(text)


def _sub(pattern: re.Pattern[str], text: str, replace: object) -> str:
    """``pattern.sub`` matched on the probe of ``text``, replacing in ``text`` itself."""
    probe = _probe(text)
    out: list[str] = []
    last = 0
    for m in pattern.finditer(probe):
        out.append(text[last : m.start()])
        out.append(replace(m))  # type: ignore[operator]
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def _number(m: re.Match[str]) -> str:
    found = m.group(0)
    if _DATE.fullmatch(found.strip()):
        return found
    return messages.REDACTED_NUMBER


def _account(m: re.Match[str]) -> str:
    """The cue ("微信号：") stays, the id goes."""
    whole = m.group(0)
    return whole[: m.start(1) - m.start(0)] + messages.REDACTED_ACCOUNT + whole[m.end(1) - m.start(0) :]


def _names(text: str) -> str:
    """Personal names jieba tags ``nr``, when they start with a surname and are no place name."""
    if not re.search(r"[\u4e00-\u9fff]", text):
        return text
    from bot.chinese.places import is_place
    from bot.chinese.segment import dictionary_freq, jieba_tagger

    out: list[str] = []
    at = 0
    for word, flag in jieba_tagger().cut(text):
        end = at + len(word)
        following = text[end : end + 1]
        if (
            flag in ("nr", "nrfg")
            and 2 <= len(word) <= 4
            and (word[0] in _SURNAMES or word.startswith(_COMPOUND_SURNAMES))
            and following not in _PLACE_SUFFIX
            and word[-1] not in _PLACE_SUFFIX
            and not is_place(word)
            and dictionary_freq(word) < _COMMON_WORD_FREQ
            and not _NOT_IN_NAMES.intersection(word)
        ):
            out.append(messages.REDACTED_NAME)
        else:
            out.append(word)
        at = end
    return "".join(out)


# --- the salt -------------------------------------------------------------------------------------------


def load_salt(data_dir: Path) -> bytes:
    """The installation's random salt, created on first use with owner-only permissions.

    The salt is never read or chmod'ed through a link (it would change the mode of whatever the
    link points to); a link, a damaged salt or one that cannot be read is a UserError naming the
    file and the fix.
    """
    path = data_dir / SALT_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise UserError(staff_messages.SALT_UNWRITABLE.format(path=path, error=exc.strerror or exc)) from None
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if path.is_symlink():
            raise UserError(staff_messages.SALT_LINK.format(path=path)) from None
        raise UserError(staff_messages.SALT_UNREADABLE.format(path=path, error=exc.strerror or exc)) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UserError(staff_messages.SALT_DAMAGED.format(path=path))
        if info.st_mode & 0o077:
            os.fchmod(f.fileno(), 0o600)  # the file itself, never a link's target
        raw = f.read(4096)
    salt = raw.decode("ascii", errors="replace").strip()
    if len(salt) < 32 or not re.fullmatch(r"[0-9a-f]+", salt):
        # An empty, truncated or overwritten file (a crash mid-write, a disk fault): never hash with it.
        raise UserError(staff_messages.SALT_DAMAGED.format(path=path))
    return salt.encode()

"""The patterns of the fast camt reader (:mod:`shared.statements.camt_fast`), in ISO 20022 schema order.

They match lxml's serialization of one ``Ntry`` (:data:`NTRY`, the ``TxDtls`` left to :data:`TX`)
and capture the leaves the element reader (:mod:`shared.statements.camt_entries`) reads:

- Names are unprefixed; the only namespace declarations are on the ``Ntry`` start tag.
- A captured leaf is a text-only element (``<X>text</X>``); its text is still escaped.
- No element is written ``<X></X>``: lxml writes an element without text or children ``<X/>``
  (``<X></X>`` only for an empty CDATA section: the element reader reads such an entry). So text
  is never empty and a literal start tag is never followed by ``</`` (:func:`_not_empty`); the
  raw reader (:mod:`shared.statements.camt_raw`) relies on it.
- ``_skip`` runs match complete elements (start tag, text or complete children up to
  :data:`DEPTH` levels, end tag: in well-formed text the element's own), never one whose name
  the element reader looks at, so every captured leaf is the "first child called X" it would read.
  A name read twice, an unknown order or deeper nesting make the match fail (element reader).
- Where alternatives exclude each other (``Nm`` / ``Pty/Nm`` / ``Agt/FinInstnId/Nm``, ``IBAN`` /
  ``Othr/Id``, ``BIC`` / ``BICFI``, the three ``Sts`` forms, ``Dt`` / ``DtTm``) at most one group is set.
- Quantifiers are possessive: a failing match costs linear time, even on hostile input.
- No skipped element is called ``Ntry``, ``Stmt``, ``Rpt`` or ``Ntfctn`` (the tree reader reports
  those itself); no attribute declares a namespace or is ``xml:id``, and no attribute value holds a
  tab or newline (lxml writes those escaped). With the points above this lets the raw reader
  (:mod:`shared.statements.camt_raw`) take an entry's own text for its serialization.

Compiling takes some 50 ms, so it happens on first use (:func:`compiled`).
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

_T = r"[^<]++"  # leaf text (escaped, not empty: see the module docstring)
# Attributes as lxml writes them: no namespace declaration, no xml:id, no tab or newline in a value.
_ATTRS = r'(?: (?!xmlns|xml:id)[\w:.-]++="[^"\t\n]*+")*+'
_CCY = r'[^"&\t\n]*+'  # an Amt's Ccy value
_OWN = ("Ntry", "Stmt", "Rpt", "Ntfctn")  # what the tree reader reports itself: never skipped
DEPTH = 6  # nesting of the elements a pattern skips without reading


def _any_element(depth: int) -> str:
    name = rf"(?!(?:{'|'.join(_OWN)})[ />])\w++"
    element = rf"<{name}{_ATTRS}(?:/>|>[^<]++</\w++>)"
    for _ in range(depth):
        element = rf"<{name}{_ATTRS}(?:/>|>[^<]++</\w++>|>(?:{element})++</\w++>)"
    return element


_ANY = _any_element(DEPTH - 1)


def _skip(*read: str) -> str:
    """Any run of complete elements, none of them called one of ``read`` (names the reader uses)."""
    refuse = rf"(?!(?:{'|'.join((*read, *_OWN))})[ />])"
    return rf"(?:<{refuse}\w++{_ATTRS}(?:/>|>[^<]++</\w++>|>(?:{_ANY})++</\w++>))*+"


def _leaf(name: str, group: str) -> str:
    return rf"(?:<{name}>(?P<{group}>{_T})</{name}>)?"


def _date(group: str) -> str:
    return rf"<(?:Dt>(?P<{group}_dt>{_T})</Dt|DtTm>(?P<{group}_dttm>{_T})</DtTm)>"


# BkTxCd content: the ISO domain code (Domn/Cd, Fmly/Cd, Fmly/SubFmlyCd) and the proprietary Prtry/Cd.
CODE = (rf"(?:<Domn><Cd>(?P<dcd>{_T})</Cd>(?:<Fmly><Cd>(?P<fcd>{_T})</Cd><SubFmlyCd>(?P<sub>{_T})</SubFmlyCd>"
         rf"</Fmly>)?</Domn>)?(?:<Prtry><Cd>(?P<pcd>{_T})</Cd>(?:<Issr>{_T}</Issr>)?</Prtry>)?")


def _quiet(pattern: str) -> str:
    """``pattern`` with its named groups made non-capturing (to embed it for checking only)."""
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


def _code(group: str) -> str:
    return rf"(?:<BkTxCd>(?P<{group}>{_quiet(CODE)})</BkTxCd>)?"


def _party(group: str, *, agent: bool) -> str:
    """Dbtr / Cdtr (``Nm``, ``Pty/Nm`` or ``Agt/FinInstnId/Nm``) or their ultimate (no ``Agt``).

    The forms exclude each other, so at most one of the name groups is set.
    """
    top = ("Nm", "Pty", "Agt") if agent else ("Nm", "Pty")
    choices = [_leaf("Nm", f"{group}_nm") + _skip(*top),
               rf"<Pty>{_leaf('Nm', f'{group}_pnm')}{_skip('Nm')}</Pty>{_skip(*top)}"]
    if agent:
        choices.append(rf"<Agt><FinInstnId>{_skip('Nm')}{_leaf('Nm', f'{group}_anm')}{_skip('Nm')}</FinInstnId>"
                       rf"{_skip('FinInstnId')}</Agt>{_skip(*top)}")
    return "(?:" + "|".join(choices) + ")"


def _account(group: str) -> str:
    """``Id`` of an account: ``IBAN`` or ``Othr/Id`` (a choice: at most one group is set)."""
    return (rf"(?:<Id>(?:<IBAN>(?P<{group}_iban>{_T})</IBAN>|<Othr>{_leaf('Id', f'{group}_othr')}{_skip('Id')}"
            rf"</Othr>|{_skip('IBAN', 'Othr')})</Id>)?{_skip('Id')}")


def _agent(group: str) -> str:
    """``FinInstnId`` of an agent: ``BIC`` (up to v4) or ``BICFI`` (at most one group is set)."""
    return (rf"(?:<FinInstnId>(?:<BIC>(?P<{group}_bic>{_T})</BIC>|<BICFI>(?P<{group}_bicfi>{_T})</BICFI>)?"
            rf"{_skip('BIC', 'BICFI')}</FinInstnId>)?{_skip('FinInstnId')}")


REFS = ("MsgId", "AcctSvcrRef", "PmtInfId", "InstrId", "EndToEndId", "UETR", "TxId", "MndtId")
_PARTIES = ("Dbtr", "DbtrAcct", "UltmtDbtr", "Cdtr", "CdtrAcct", "UltmtCdtr")
_TX_READ = ("Refs", "Amt", "CdtDbtInd", "AmtDtls", "BkTxCd", "RltdPties", "RltdAgts", "RmtInf", "AddtlTxInf")
_STRD_READ = ("RfrdDocInf", "CdtrRefInf", "AddtlRmtInf")
_NTRY_READ = ("NtryRef", "Amt", "CdtDbtInd", "RvslInd", "Sts", "BookgDt", "ValDt", "AcctSvcrRef", "BkTxCd",
              "NtryDtls", "TxDtls", "AddtlNtryInf")
STRD = (rf"<Strd>{_skip(*_STRD_READ)}(?:<CdtrRefInf>(?:<Tp><CdOrPrtry>(?:<Cd>(?P<cd>{_T})</Cd>|"
         rf"<Prtry>(?P<prtry>{_T})</Prtry>)</CdOrPrtry>(?:<Issr>{_T}</Issr>)?</Tp>)?{_leaf('Ref', 'ref')}"
         rf"</CdtrRefInf>)?{_skip(*_STRD_READ)}(?P<notes>(?:<AddtlRmtInf>{_T}</AddtlRmtInf>)*+)</Strd>")
TX = (
    "<TxDtls>"
    + "(?:<Refs>" + "".join(_leaf(name, name) for name in REFS) + _skip(*REFS) + "</Refs>)?"
    + rf'(?:<Amt(?: Ccy="(?P<ccy>{_CCY})")?>(?P<amt>{_T})</Amt>)?' + _leaf("CdtDbtInd", "ind")
    + rf"(?:(?P<amt_dtls><AmtDtls>)(?:{_ANY})++</AmtDtls>)?" + _skip(*_TX_READ) + _code("btc") + _skip(*_TX_READ)
    + "(?:<RltdPties>" + _skip(*_PARTIES)
    + f"(?:<Dbtr>{_party('d', agent=True)}</Dbtr>)?(?:<DbtrAcct>{_account('da')}</DbtrAcct>)?"
    + f"(?:<UltmtDbtr>{_party('ud', agent=False)}</UltmtDbtr>)?"
    + f"(?:<Cdtr>{_party('c', agent=True)}</Cdtr>)?(?:<CdtrAcct>{_account('ca')}</CdtrAcct>)?"
    + f"(?:<UltmtCdtr>{_party('uc', agent=False)}</UltmtCdtr>)?" + _skip(*_PARTIES) + "</RltdPties>)?"
    + f"(?:<RltdAgts>(?:<DbtrAgt>{_agent('dg')}</DbtrAgt>)?(?:<CdtrAgt>{_agent('cg')}</CdtrAgt>)?"
    + _skip("DbtrAgt", "CdtrAgt") + "</RltdAgts>)?" + _skip(*_TX_READ)
    + rf"(?:<RmtInf>(?P<ustrd>(?:<Ustrd>{_T}</Ustrd>)*+)(?P<strd>(?:{_quiet(STRD)})*+)</RmtInf>)?"
    + _skip(*_TX_READ) + _leaf("AddtlTxInf", "addtl") + _skip(*_TX_READ) + "</TxDtls>"
)
NTRY = (
    r'<Ntry(?P<decls>(?: xmlns(?::[\w.-]++)?="[^"]*+")*+)>' + _leaf("NtryRef", "ref")
    + rf'<Amt(?: Ccy="(?P<ccy>{_CCY})")?>(?P<amt>{_T})</Amt>' + _leaf("CdtDbtInd", "ind") + _leaf("RvslInd", "rvsl")
    + rf"(?:<Sts>(?:(?P<sts>{_T})|<Cd>(?P<sts_cd>{_T})</Cd>|<Prtry>(?P<sts_prtry>{_T})</Prtry>)</Sts>)?"
    + f"(?:<BookgDt>{_date('bookg')}</BookgDt>)?(?:<ValDt>{_date('val')}</ValDt>)?"
    + _leaf("AcctSvcrRef", "acct_ref") + _skip(*_NTRY_READ) + _code("btc")
    + _skip(*_NTRY_READ) + rf"(?:<NtryDtls>{_skip('TxDtls')}(?P<txs><TxDtls>.*)?</NtryDtls>)?"
    + _leaf("AddtlNtryInf", "addtl") + "</Ntry>"
)
# The groups of NTRY and TX in pattern order (the fast reader unpacks them by position).
NTRY_GROUPS = ("decls", "ref", "ccy", "amt", "ind", "rvsl", "sts", "sts_cd", "sts_prtry", "bookg_dt", "bookg_dttm",
               "val_dt", "val_dttm", "acct_ref", "btc", "txs", "addtl")
TX_GROUPS = (*REFS, "ccy", "amt", "ind", "amt_dtls", "btc", "d_nm", "d_pnm", "d_anm", "da_iban", "da_othr",
             "ud_nm", "ud_pnm", "c_nm", "c_pnm", "c_anm", "ca_iban", "ca_othr", "uc_nm", "uc_pnm", "dg_bic",
             "dg_bicfi", "cg_bic", "cg_bicfi", "ustrd", "strd", "addtl")


class Patterns(NamedTuple):
    ntry: re.Pattern[str]
    tx: re.Pattern[str]
    code: re.Pattern[str]
    strd: re.Pattern[str]
    txs_group: int  # NTRY group number of the TxDtls run
    strd_group: int  # TX group number of the Strd run


@cache
def compiled() -> Patterns:
    """The compiled patterns (checked against the group orders the reader unpacks)."""
    ntry, tx = re.compile(_not_empty(NTRY), re.S), re.compile(_not_empty(TX))
    for pattern, names in ((ntry, NTRY_GROUPS), (tx, TX_GROUPS)):
        if tuple(sorted(pattern.groupindex, key=pattern.groupindex.__getitem__)) != names:
            raise AssertionError("camt patterns: groups out of step with the fast reader")
    return Patterns(ntry, tx, re.compile(_not_empty(CODE)), re.compile(_not_empty(STRD)), ntry.groupindex["txs"],
                    tx.groupindex["strd"])


# Elements whose content, as the patterns read it, could be nothing (tests/statements/test_camt_raw.py
# derives the list from the patterns): their start tag refuses an element written <X></X>.
_MAY_BE_EMPTY = ("AmtDtls", "BkTxCd", "Cdtr", "CdtrAcct", "CdtrAgt", "CdtrRefInf", "Dbtr", "DbtrAcct", "DbtrAgt",
                 "FinInstnId", "Id", "NtryDtls", "Othr", "Pty", "Refs", "RltdAgts", "RltdPties", "RmtInf", "Strd",
                 "TxDtls", "UltmtCdtr", "UltmtDbtr")
_MAY_BE_EMPTY_RE = re.compile(rf"(?<!\?P)<({'|'.join(_MAY_BE_EMPTY)})>")


def _not_empty(pattern: str) -> str:
    """``pattern`` with the start tags of :data:`_MAY_BE_EMPTY` refusing an element written ``<X></X>``.

    Other elements refuse it already: a leaf's text is ``[^<]++``, the others have a required child.
    """
    return _MAY_BE_EMPTY_RE.sub(r"<\1>(?!</)", pattern)

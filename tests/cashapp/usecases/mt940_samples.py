"""Small hand-written MT940 statements for import tests."""

from __future__ import annotations


def mt940(
    *, account: str = "NL91ABNA0417164300", seq: str = "00001/001", opening: str = "C261101EUR1000,00",
    lines: tuple[tuple[str, str, str], ...] = (("2611021102C150,00NTRFINV1//BR001", "CUST A", "INV-1"),),
    closing: str = "C261102EUR1150,00", ref: str = "STMT1",
) -> str:
    """An MT940 statement; ``lines`` are (:61: body, counterparty name, remittance)."""
    body = [f":20:{ref}", f":25:{account}", f":28C:{seq}", f":60F:{opening}"]
    for sixty_one, name, remi in lines:
        body.append(f":61:{sixty_one}")
        body.append(f":86:/NAME/{name}/REMI/{remi}")
    body.append(f":62F:{closing}")
    return "\r\n".join(body) + "\r\n-\r\n"

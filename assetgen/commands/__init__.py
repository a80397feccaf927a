"""One module per command; what their messages share."""


def counted(count: int, noun: str) -> str:
    """`1 call`, `2 calls`: a count with its noun, singular for one."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"

"""What SFCC's import log says it imported. A job can finish OK while skipping bad elements: those
are its DATAERROR lines (and DATAWARNING), which the tool counts and reports like its own errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PROCESSED = re.compile(r"Processed (\d+) ([\w-]+) elements? successfully")
_TOTAL = re.compile(r"Processed (\d+) total elements?")


@dataclass
class ImportLog:
    counts: dict[str, int] = field(default_factory=dict)  # element type -> processed
    total: int = 0
    dataerrors: list[str] = field(default_factory=list)
    datawarnings: list[str] = field(default_factory=list)

    def as_dict(self, keep: int = 20) -> dict:
        return {"counts": self.counts, "total": self.total, "dataerrors": len(self.dataerrors),
                "datawarnings": len(self.datawarnings), "first_dataerrors": self.dataerrors[:keep],
                "first_datawarnings": self.datawarnings[:keep]}


def parse(text: str) -> ImportLog:
    log = ImportLog()
    for line in text.splitlines():
        if "[DATAERROR]" in line:
            log.dataerrors.append(line.strip())
        elif "[DATAWARNING]" in line:
            log.datawarnings.append(line.strip())
        elif total := _TOTAL.search(line):
            log.total += int(total.group(1))
        elif processed := _PROCESSED.search(line):
            log.counts[processed.group(2)] = log.counts.get(processed.group(2), 0) + int(processed.group(1))
    return log

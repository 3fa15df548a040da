"""Common microcontroller boards' RAM and flash, to say which ones a micro graph fits (`vaedge info`).

A graph fits a board when its measured tensor arena fits the board's RAM and its flatbuffer its
flash. The rest of the firmware (stack, buffers, code) needs its share of both, so a fit is
necessary, not sufficient. Figures from each vendor's datasheet or product page, as named.
"""

from __future__ import annotations

from dataclasses import dataclass

KiB, MiB = 1024, 1024 * 1024


@dataclass(frozen=True)
class Board:
    name: str
    short: str  # for tables
    ram: int  # bytes of on-chip SRAM
    flash: int  # bytes of program flash
    source: str


BOARDS = (
    Board(
        "Cortex-M4, 128 KiB class (STM32F411)", "STM32F411", 128 * KiB, 512 * KiB, "ST DS10314, STM32F411xC/E datasheet"
    ),
    Board(
        "Arduino Nano 33 BLE (nRF52840)", "nRF52840", 256 * KiB, 1 * MiB, "Nordic nRF52840 Product Specification v1.7"
    ),
    Board("Raspberry Pi Pico (RP2040)", "RP2040", 264 * KiB, 2 * MiB, "Raspberry Pi RP2040 and Pico datasheets"),
    Board("STM32F746 Discovery", "STM32F746", 320 * KiB, 1 * MiB, "ST DS10916, STM32F745xx/STM32F746xx datasheet"),
    Board("SparkFun Edge (Apollo3)", "Apollo3", 384 * KiB, 1 * MiB, "Ambiq Apollo3 Blue datasheet"),
    Board("ESP32-S3-DevKitC-1 N8", "ESP32-S3", 512 * KiB, 8 * MiB, "Espressif ESP32-S3 datasheet; DevKitC-1 N8 module"),
)


def boards_that_fit(arena_bytes: int, flash_bytes: int) -> list[Board]:
    """The boards whose RAM holds the arena and whose flash holds the graph."""
    return [b for b in BOARDS if arena_bytes <= b.ram and flash_bytes <= b.flash]

"""zonebot: cited answers to Chinese questions about policy documents.

`bot` holds the answer engine and its transports (CLI, Telegram); `index` turns
documents into ranked chunks.
"""

__version__ = "0.1.0"

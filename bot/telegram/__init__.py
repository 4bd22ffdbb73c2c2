"""The Telegram transport: application, handlers by concern, rendering, limits and the
question log. Knows nothing of FAISS or the index internals: it talks to an Engine."""

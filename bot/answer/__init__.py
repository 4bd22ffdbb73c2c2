"""The answer engine: question in, cited Answer out. Knows nothing of Telegram or argparse;
it reaches the index only through the retriever's public methods."""

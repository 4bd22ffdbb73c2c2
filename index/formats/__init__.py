"""One module per file format, each turning a file into `index.formats.source.SourceText`.

`index.loaders` detects a file's real type from its content (`detect`) and hands it to
the module that reads it; the modules share the text encodings (`encodings`), the
block-by-block text builder (`source`) and tables as sentences (`tables`).
"""

"""Images: listing files and folders, decoding any common format, preprocessing, the DataLoader.

May import `hashing/` (a file is hashed from the bytes read to decode it) and
`networks/runtimes` (how many cores the decoders may use).
"""

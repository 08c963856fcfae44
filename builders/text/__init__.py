"""Pure text and hashing functions, free of Arrow: rules, shingles, MinHash signatures."""

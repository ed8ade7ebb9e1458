//! obi-scalp: a low-latency order-book-imbalance scalping engine.

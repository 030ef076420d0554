//! Authorization server library.

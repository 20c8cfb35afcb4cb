//! See tests/*.rs

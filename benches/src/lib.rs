//! Shared helpers for the criterion benches (rule-set generators).

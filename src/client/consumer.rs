//! consumer


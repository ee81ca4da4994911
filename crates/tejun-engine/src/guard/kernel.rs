//! Kernel-enforced pins (see below). Placeholder until implemented.

//! diverge as a library: the link layer and seed derivation, shared by the binary and the tests.
pub mod net;
pub mod seeds;

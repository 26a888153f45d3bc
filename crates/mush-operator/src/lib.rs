//! The mush-on-kube operator: `MushShard` objects in, gateway and game Deployments,
//! Services, PodDisruptionBudgets and a session-driven game replica count out.
//!
//! Modules by concern: [`crd`] (the resource and its schema), [`resources`] (the objects a
//! spec produces), [`autoscale`] (the replica decision), [`controller`] (the reconcile loop
//! applying them), [`pki`] (the link certificates it issues), [`leader`] (one active
//! replica), [`metrics`].

pub mod autoscale;
pub mod controller;
pub mod crd;
pub mod leader;
pub mod metrics;
pub mod pki;
pub mod resources;

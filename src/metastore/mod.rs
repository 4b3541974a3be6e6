//! TEMPORARY interface stub, replaced by the real metastore from its branch.
use crate::protocol::{MetaError, MetaEvent, MetaOp, Request, Response, ZNode};
use crate::sim::net::{Addr, NodeNet};
use crate::sim::disk::Disk;

#[derive(Debug)]
pub enum MetaClientError { Meta(MetaError), Unavailable }
pub struct MetaClient;
impl MetaClient {
    pub async fn connect(_net: NodeNet<Request, Response>, _server: Addr, _t: u64) -> Result<MetaClient, MetaClientError> { todo!() }
    pub async fn create(&self, _p: &str, _d: &str, _e: bool) -> Result<u64, MetaClientError> { todo!() }
    pub async fn get(&self, _p: &str, _w: bool) -> Result<Option<ZNode>, MetaClientError> { todo!() }
    pub async fn children(&self, _p: &str, _w: bool) -> Result<Vec<String>, MetaClientError> { todo!() }
    pub async fn set_data(&self, _p: &str, _d: &str, _v: Option<u64>) -> Result<u64, MetaClientError> { todo!() }
    pub async fn delete(&self, _p: &str, _v: Option<u64>) -> Result<(), MetaClientError> { todo!() }
    pub async fn multi(&self, _ops: Vec<MetaOp>) -> Result<Vec<u64>, MetaClientError> { todo!() }
    pub async fn next_event(&self) -> Option<MetaEvent> { todo!() }
    pub fn expired(&self) -> tokio::sync::watch::Receiver<bool> { todo!() }
}
pub async fn run_metastore(_net: NodeNet<Request, Response>, _disk: Disk) {}

//! The `request` and `response` resources: host functions the guest calls to
//! read and change the message of the current phase.

use bytes::Bytes;
use http::HeaderMap;
use wasmtime::component::Resource;

use super::bindings::types::{self, BodyError, HeaderError};
use super::message::{MessageBody, ProxyRequest, ProxyResponse, headers};
use super::state::HostState;

impl types::Host for HostState {}

impl HostState {
    fn request(&self, handle: &Resource<ProxyRequest>) -> wasmtime::Result<&ProxyRequest> {
        Ok(self.table.get(handle)?)
    }

    fn request_mut(
        &mut self,
        handle: &Resource<ProxyRequest>,
    ) -> wasmtime::Result<&mut ProxyRequest> {
        Ok(self.table.get_mut(handle)?)
    }

    fn response(&self, handle: &Resource<ProxyResponse>) -> wasmtime::Result<&ProxyResponse> {
        Ok(self.table.get(handle)?)
    }

    fn response_mut(
        &mut self,
        handle: &Resource<ProxyResponse>,
    ) -> wasmtime::Result<&mut ProxyResponse> {
        Ok(self.table.get_mut(handle)?)
    }
}

/// What the `request` and `response` resources have in common.
trait Message {
    fn parts(&mut self) -> (&mut HeaderMap, &mut MessageBody, u64);
}

impl Message for ProxyRequest {
    fn parts(&mut self) -> (&mut HeaderMap, &mut MessageBody, u64) {
        (
            &mut self.head.headers,
            &mut self.body,
            self.info.max_body_bytes,
        )
    }
}

impl Message for ProxyResponse {
    fn parts(&mut self) -> (&mut HeaderMap, &mut MessageBody, u64) {
        (&mut self.head.headers, &mut self.body, self.max_body_bytes)
    }
}

impl HostState {
    fn message<M: Message + 'static>(&mut self, handle: &Resource<M>) -> wasmtime::Result<&mut M> {
        Ok(self.table.get_mut(handle)?)
    }
}

/// The header and body methods both resources share, for resource type `$ty`.
macro_rules! message_methods {
    ($ty:ty) => {
        fn header(&mut self, msg: Resource<$ty>, name: String) -> wasmtime::Result<Option<String>> {
            Ok(headers::get(self.message(&msg)?.parts().0, &name))
        }

        fn header_all(
            &mut self,
            msg: Resource<$ty>,
            name: String,
        ) -> wasmtime::Result<Vec<String>> {
            Ok(headers::get_all(self.message(&msg)?.parts().0, &name))
        }

        fn header_bytes(
            &mut self,
            msg: Resource<$ty>,
            name: String,
        ) -> wasmtime::Result<Option<Vec<u8>>> {
            Ok(headers::get_bytes(self.message(&msg)?.parts().0, &name))
        }

        fn header_all_bytes(
            &mut self,
            msg: Resource<$ty>,
            name: String,
        ) -> wasmtime::Result<Vec<Vec<u8>>> {
            Ok(headers::get_all_bytes(self.message(&msg)?.parts().0, &name))
        }

        fn header_names(&mut self, msg: Resource<$ty>) -> wasmtime::Result<Vec<String>> {
            Ok(headers::names(self.message(&msg)?.parts().0))
        }

        fn set_header(
            &mut self,
            msg: Resource<$ty>,
            name: String,
            value: String,
        ) -> wasmtime::Result<Result<(), HeaderError>> {
            Ok(headers::set(self.message(&msg)?.parts().0, &name, &value))
        }

        fn append_header(
            &mut self,
            msg: Resource<$ty>,
            name: String,
            value: String,
        ) -> wasmtime::Result<Result<(), HeaderError>> {
            Ok(headers::append(
                self.message(&msg)?.parts().0,
                &name,
                &value,
            ))
        }

        fn remove_header(&mut self, msg: Resource<$ty>, name: String) -> wasmtime::Result<()> {
            headers::remove(self.message(&msg)?.parts().0, &name);
            Ok(())
        }

        async fn body(
            &mut self,
            msg: Resource<$ty>,
        ) -> wasmtime::Result<Result<Vec<u8>, BodyError>> {
            let (headers, body, limit) = self.message(&msg)?.parts();
            let (result, waited) = body.read(headers, limit).await;
            self.timing.add_io_wait(waited);
            Ok(result.map(|bytes| bytes.to_vec()))
        }

        fn set_body(&mut self, msg: Resource<$ty>, bytes: Vec<u8>) -> wasmtime::Result<()> {
            let (headers, body, _) = self.message(&msg)?.parts();
            body.replace(headers, Bytes::from(bytes));
            Ok(())
        }
    };
}

/// Builds a URI from `old` with a new path and query.
fn with_path_and_query(
    old: &http::Uri,
    path: &str,
    query: Option<&str>,
) -> Result<http::Uri, String> {
    let path_and_query = match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = old.clone().into_parts();
    parts.path_and_query = Some(
        path_and_query
            .parse()
            .map_err(|_| format!("`{path_and_query}` is not a valid path and query"))?,
    );
    http::Uri::from_parts(parts).map_err(|e| e.to_string())
}

impl types::HostRequest for HostState {
    message_methods!(ProxyRequest);

    fn method(&mut self, req: Resource<ProxyRequest>) -> wasmtime::Result<String> {
        Ok(self.request(&req)?.head.method.as_str().to_owned())
    }

    fn scheme(&mut self, req: Resource<ProxyRequest>) -> wasmtime::Result<String> {
        Ok(self.request(&req)?.info.scheme.to_owned())
    }

    fn authority(&mut self, req: Resource<ProxyRequest>) -> wasmtime::Result<Option<String>> {
        let head = &self.request(&req)?.head;
        Ok(head
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| headers::get(&head.headers, "host")))
    }

    fn path(&mut self, req: Resource<ProxyRequest>) -> wasmtime::Result<String> {
        Ok(self.request(&req)?.head.uri.path().to_owned())
    }

    fn set_path(
        &mut self,
        req: Resource<ProxyRequest>,
        path: String,
    ) -> wasmtime::Result<Result<(), String>> {
        let head = &mut self.request_mut(&req)?.head;
        let path = match portico_contract::path::plugin_path(&path) {
            Ok(path) => path,
            Err(reason) => return Ok(Err(reason)),
        };
        let query = head.uri.query().map(str::to_owned);
        Ok(with_path_and_query(&head.uri, &path, query.as_deref()).map(|uri| head.uri = uri))
    }

    fn query(&mut self, req: Resource<ProxyRequest>) -> wasmtime::Result<Option<String>> {
        Ok(self.request(&req)?.head.uri.query().map(str::to_owned))
    }

    fn set_query(
        &mut self,
        req: Resource<ProxyRequest>,
        query: Option<String>,
    ) -> wasmtime::Result<Result<(), String>> {
        let head = &mut self.request_mut(&req)?.head;
        let path = head.uri.path().to_owned();
        Ok(with_path_and_query(&head.uri, &path, query.as_deref()).map(|uri| head.uri = uri))
    }

    fn route_param(
        &mut self,
        req: Resource<ProxyRequest>,
        name: String,
    ) -> wasmtime::Result<Option<String>> {
        let info = &self.request(&req)?.info;
        Ok(info
            .params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone()))
    }

    fn client_addr(&mut self, req: Resource<ProxyRequest>) -> wasmtime::Result<String> {
        Ok(self.request(&req)?.info.client_ip.to_string())
    }

    fn route_name(&mut self, req: Resource<ProxyRequest>) -> wasmtime::Result<String> {
        Ok(self.request(&req)?.info.route.to_string())
    }

    fn set_response_phase(
        &mut self,
        req: Resource<ProxyRequest>,
        phase: types::ResponsePhase,
    ) -> wasmtime::Result<()> {
        // Only during `on-request`, on the request it was given.
        self.request(&req)?;
        self.response_phase = phase;
        Ok(())
    }

    fn drop(&mut self, req: Resource<ProxyRequest>) -> wasmtime::Result<()> {
        // The host owns requests; a guest only ever holds borrows.
        let _ = req;
        Ok(())
    }
}

impl types::HostResponse for HostState {
    message_methods!(ProxyResponse);

    fn status(&mut self, res: Resource<ProxyResponse>) -> wasmtime::Result<u16> {
        Ok(self.response(&res)?.head.status.as_u16())
    }

    fn set_status(
        &mut self,
        res: Resource<ProxyResponse>,
        status: u16,
    ) -> wasmtime::Result<Result<(), String>> {
        let head = &mut self.response_mut(&res)?.head;
        Ok(http::StatusCode::from_u16(status)
            .map(|status| head.status = status)
            .map_err(|_| format!("{status} is not a valid status code")))
    }

    fn drop(&mut self, res: Resource<ProxyResponse>) -> wasmtime::Result<()> {
        let _ = res;
        Ok(())
    }
}

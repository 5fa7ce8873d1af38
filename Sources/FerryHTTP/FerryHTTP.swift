enum FerryHTTPNamespace {}

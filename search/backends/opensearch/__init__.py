"""The OpenSearch backend: the only package that
imports opensearch-py.  Documents arrive analysed by our own pipeline
(``search.documents.prepare``) and are stored as whitespace-separated token
fields, so OpenSearch sees exactly the tokens the Whoosh backend indexes."""

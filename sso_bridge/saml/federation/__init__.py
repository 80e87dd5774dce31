"""Federations: many IdPs from a signed aggregate or an MDQ service, and finding one's IdP.

No Flask here, and no onelogin: python3-saml reads one IdP's metadata at a time, and is still
what validates every response; this package only decides which IdPs are trusted and what their
metadata says.

* ``records``: an IdP's metadata as plain data (:class:`IdpRecord`);
* ``aggregate``: a signed aggregate verified, dated and filtered to the admitted IdPs;
* ``index``: those IdPs in a read-only SQLite file shared by an instance's workers;
* ``build``: aggregate → index, in a short-lived child process;
* ``source``: start-up, refresh once per instance, readiness, hooks;
* ``mdq``: the Metadata Query Protocol client;
* ``discovery``: search-as-you-type over display names, keywords and scopes;
* ``accounts``: no two IdPs may produce the same Sakai EID;
* ``transport``: HTTP(S) streamed to disk with a cap.
"""

"""Every way a pod template can use a ConfigMap or Secret is found, with where it is used."""

from kubereload.kube.data import DataKind
from kubereload.rollout.refs import Reference, extract_references, referenced

POD = {
    "volumes": [
        {"name": "conf", "configMap": {"name": "app-config"}},
        {"name": "creds", "secret": {"secretName": "db-creds"}},
        {
            "name": "all",
            "projected": {
                "sources": [
                    {"configMap": {"name": "proj-cm"}},
                    {"secret": {"name": "proj-secret"}},
                    {"downwardAPI": {"items": []}},
                    {"serviceAccountToken": {"path": "token"}},
                ]
            },
        },
        {"name": "scratch", "emptyDir": {}},
    ],
    "initContainers": [
        {
            "name": "init",
            "envFrom": [{"secretRef": {"name": "init-env"}}],
        }
    ],
    "containers": [
        {
            "name": "app",
            "env": [
                {"name": "PLAIN", "value": "x"},
                {
                    "name": "LEVEL",
                    "valueFrom": {"configMapKeyRef": {"name": "levels", "key": "level"}},
                },
                {
                    "name": "PASSWORD",
                    "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}},
                },
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ],
            "envFrom": [{"configMapRef": {"name": "env-cm"}, "prefix": "APP_"}],
            "volumeMounts": [
                {"name": "conf", "mountPath": "/etc/app"},
                {"name": "creds", "mountPath": "/etc/creds/pw", "subPath": "password"},
            ],
        }
    ],
}


def test_every_reference_kind_is_found() -> None:
    refs = extract_references(POD)
    assert [(r.kind, r.name, r.via) for r in refs] == [
        ("ConfigMap", "app-config", 'volume "conf"'),
        ("Secret", "db-creds", 'volume "creds"'),
        ("ConfigMap", "proj-cm", 'volume "all"'),
        ("Secret", "proj-secret", 'volume "all"'),
        ("Secret", "init-env", 'envFrom of init container "init"'),
        ("ConfigMap", "levels", 'env LEVEL of container "app"'),
        ("Secret", "db-creds", 'env PASSWORD of container "app"'),
        ("ConfigMap", "env-cm", 'envFrom of container "app"'),
    ]
    assert referenced(refs, DataKind.CONFIGMAP) == {"app-config", "proj-cm", "levels", "env-cm"}
    assert referenced(refs, DataKind.SECRET) == {"db-creds", "proj-secret", "init-env"}


def test_env_key_refs_carry_their_key() -> None:
    keys = {(r.name, r.key) for r in extract_references(POD) if r.via.startswith("env ")}
    assert keys == {("levels", "level"), ("db-creds", "password")}


def test_sub_path_mounts_are_marked() -> None:
    sub = {(r.kind, r.name) for r in extract_references(POD) if r.sub_path}
    assert sub == {("Secret", "db-creds")}
    pod = {
        "volumes": [{"name": "v", "configMap": {"name": "c"}}],
        "initContainers": [
            {"name": "i", "volumeMounts": [{"name": "v", "mountPath": "/x", "subPathExpr": "$(P)"}]}
        ],
    }
    assert extract_references(pod) == [Reference(DataKind.CONFIGMAP, "c", 'volume "v"', None, True)]


def test_malformed_or_empty_specs_yield_nothing() -> None:
    assert extract_references({}) == []
    bad = {
        "volumes": ["not a dict", {"name": "v", "configMap": {}}, {"secret": {"secretName": ""}}],
        "containers": [None, {"name": "c", "env": [{"name": "E", "valueFrom": "bad"}]}],
    }
    assert extract_references(bad) == []

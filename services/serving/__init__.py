"""The serving service: online inference of deployed models, one process per party.

A party's operator deploys a trained model (``silobridge model deploy``) to its own serving
service. The guest's serving answers ``POST /v1/score/{name}`` with the guest's features: it asks
each host's serving, through the routers (``CHANNEL_SERVING``), for the partial score of that id
under the same model, adds them and returns the score with the model version. A host answers only
for models its own operator deployed, only to their guest, with nothing but partial scores.
"""

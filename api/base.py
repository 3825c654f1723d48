"""The base of every API view: bounded JSON bodies and error bodies documented in the schema.

REST_FRAMEWORK settings name DRF's JSONParser and drf-spectacular's AutoSchema; until they name
the classes below, each view takes them from here.
"""

from rest_framework.views import APIView

from .parsers import BoundedJSONParser
from .schema import NetcareAutoSchema


class ApiView(APIView):
    parser_classes = [BoundedJSONParser]
    schema = NetcareAutoSchema()

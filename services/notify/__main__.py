from services.notify.config import SPEC
from shared.service import main

main(SPEC)

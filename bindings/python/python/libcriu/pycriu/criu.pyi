from . import CR_DEFAULT_SERVICE_ADDRESS as CR_DEFAULT_SERVICE_ADDRESS
from . import CRIUException as CRIUException
from . import CRIUExceptionExternal as CRIUExceptionExternal
from . import CRIUExceptionInternal as CRIUExceptionInternal
from . import criu as criu
